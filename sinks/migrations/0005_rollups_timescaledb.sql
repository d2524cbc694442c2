-- Materialize what is settled; the newest buckets come from the raw rows in real time.
SELECT add_continuous_aggregate_policy('metric_hourly', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('metric_daily', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '6 hours',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('oee_hourly', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('oee_daily', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '6 hours',
    if_not_exists => true);
