-- TimescaleDB: hypertables, compression, retention, continuous aggregates.
-- Every statement is idempotent: continuous aggregates cannot be made inside a transaction,
-- so this file runs statement by statement and a re-run after a failure must go through.

SELECT create_hypertable('telemetry', by_range('ts', INTERVAL '1 day'), if_not_exists => true);
SELECT create_hypertable('oee', by_range('window_start', INTERVAL '7 days'),
                         if_not_exists => true);
SELECT create_hypertable('digitization', by_range('window_start', INTERVAL '30 days'),
                         if_not_exists => true);

-- Dashboards read one device (or entity) over time: segment by it, newest first.
ALTER TABLE telemetry SET (timescaledb.compress,
                           timescaledb.compress_segmentby = 'device_id',
                           timescaledb.compress_orderby = 'ts DESC, seq DESC');
ALTER TABLE oee SET (timescaledb.compress,
                     timescaledb.compress_segmentby = 'level, entity_id',
                     timescaledb.compress_orderby = 'window_start DESC');
-- Late corrections come within the grace period (minutes); a week later a chunk is settled.
SELECT add_compression_policy('telemetry', INTERVAL '@COMPRESS_AFTER_DAYS@ days',
                              if_not_exists => true);
SELECT add_compression_policy('oee', INTERVAL '@COMPRESS_AFTER_DAYS@ days',
                              if_not_exists => true);

SELECT add_retention_policy('telemetry', INTERVAL '@TELEMETRY_RETENTION_DAYS@ days',
                            if_not_exists => true);
SELECT add_retention_policy('oee', INTERVAL '@KPI_RETENTION_DAYS@ days', if_not_exists => true);
SELECT add_retention_policy('digitization', INTERVAL '@KPI_RETENTION_DAYS@ days',
                            if_not_exists => true);

-- Roll-ups store sums and counts, never averages: a mean is value_sum / samples in the views,
-- and an OEE of many windows is recomputed from added parts.
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', t.ts) AS bucket, t.device_id, m.key AS metric,
       count(*) AS samples, sum(m.value::double precision) AS value_sum,
       min(m.value::double precision) AS value_min, max(m.value::double precision) AS value_max
FROM telemetry t CROSS JOIN LATERAL jsonb_each_text(t.metrics) AS m
GROUP BY 1, 2, 3
WITH NO DATA;

-- A day is the sum of its hours (a roll-up of the roll-up: cheaper, and the same sums).
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, device_id, metric,
       sum(samples)::bigint AS samples, sum(value_sum) AS value_sum,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM metric_hourly
GROUP BY 1, 2, 3
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', window_start) AS bucket, level, entity_id,
       count(*) AS windows, sum(samples) AS samples, sum(late_samples) AS late_samples,
       sum(run_s) AS run_s, sum(idle_s) AS idle_s, sum(setup_s) AS setup_s,
       sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee
GROUP BY 1, 2, 3
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, level, entity_id,
       sum(windows)::bigint AS windows, sum(samples) AS samples,
       sum(late_samples) AS late_samples, sum(run_s) AS run_s, sum(idle_s) AS idle_s,
       sum(setup_s) AS setup_s, sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee_hourly
GROUP BY 1, 2, 3
WITH NO DATA;

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
