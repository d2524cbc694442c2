-- Roll-ups of both paths, one definition: continuous aggregates on TimescaleDB (real time:
-- `materialized_only = false`), materialized views on plain PostgreSQL, where 0003_plain
-- defines time_bucket as TimescaleDB's (UTC-aligned date_bin).
-- Roll-ups store sums and counts, never averages: a mean is value_sum / samples in the views,
-- and an OEE of many windows is recomputed from added parts.
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_hourly
@ROLLUP_OPTIONS@ AS
SELECT time_bucket(INTERVAL '1 hour', t.ts) AS bucket, t.device_id, m.key AS metric,
       count(*) AS samples, sum(m.value::double precision) AS value_sum,
       min(m.value::double precision) AS value_min, max(m.value::double precision) AS value_max
FROM telemetry t CROSS JOIN LATERAL jsonb_each_text(t.metrics) AS m
GROUP BY 1, 2, 3
@ROLLUP_NO_DATA@;

-- A day is the sum of its hours (a roll-up of the roll-up: cheaper, and the same sums).
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_daily
@ROLLUP_OPTIONS@ AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, device_id, metric,
       sum(samples)::bigint AS samples, sum(value_sum) AS value_sum,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM metric_hourly
GROUP BY 1, 2, 3
@ROLLUP_NO_DATA@;

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_hourly
@ROLLUP_OPTIONS@ AS
SELECT time_bucket(INTERVAL '1 hour', window_start) AS bucket, level, entity_id,
       count(*) AS windows, sum(samples) AS samples, sum(late_samples) AS late_samples,
       sum(run_s) AS run_s, sum(idle_s) AS idle_s, sum(setup_s) AS setup_s,
       sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee
GROUP BY 1, 2, 3
@ROLLUP_NO_DATA@;

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_daily
@ROLLUP_OPTIONS@ AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket, level, entity_id,
       sum(windows)::bigint AS windows, sum(samples) AS samples,
       sum(late_samples) AS late_samples, sum(run_s) AS run_s, sum(idle_s) AS idle_s,
       sum(setup_s) AS setup_s, sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee_hourly
GROUP BY 1, 2, 3
@ROLLUP_NO_DATA@;

