-- Plain PostgreSQL (no TimescaleDB): native range partitions and materialized roll-ups.
-- Partitions are created ahead by the sink and by `iiot db maintain`, which also drops the
-- ones past retention and refreshes the roll-ups; this table tells it how.

CREATE TABLE IF NOT EXISTS partition_policy (
    parent    text PRIMARY KEY,
    span      interval NOT NULL,  -- one partition covers this much time
    retention interval NOT NULL   -- partitions wholly older than this are dropped
);
INSERT INTO partition_policy VALUES
    ('telemetry', INTERVAL '1 day', INTERVAL '@TELEMETRY_RETENTION_DAYS@ days'),
    ('oee', INTERVAL '7 days', INTERVAL '@KPI_RETENTION_DAYS@ days'),
    ('digitization', INTERVAL '30 days', INTERVAL '@KPI_RETENTION_DAYS@ days')
ON CONFLICT (parent) DO NOTHING;

-- Same names and columns as the continuous aggregates of the TimescaleDB path; sums and
-- counts, never averages. date_bin with a UTC origin buckets like time_bucket does.
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_hourly AS
SELECT date_bin(INTERVAL '1 hour', t.ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       t.device_id, m.key AS metric,
       count(*) AS samples, sum(m.value::double precision) AS value_sum,
       min(m.value::double precision) AS value_min, max(m.value::double precision) AS value_max
FROM telemetry t CROSS JOIN LATERAL jsonb_each_text(t.metrics) AS m
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX IF NOT EXISTS metric_hourly_key ON metric_hourly (device_id, metric, bucket);

-- A day is the sum of its hours (a roll-up of the roll-up: cheaper, and the same sums).
CREATE MATERIALIZED VIEW IF NOT EXISTS metric_daily AS
SELECT date_bin(INTERVAL '1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       device_id, metric,
       sum(samples)::bigint AS samples, sum(value_sum) AS value_sum,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM metric_hourly
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX IF NOT EXISTS metric_daily_key ON metric_daily (device_id, metric, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_hourly AS
SELECT date_bin(INTERVAL '1 hour', window_start, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       level, entity_id,
       count(*) AS windows, sum(samples) AS samples, sum(late_samples) AS late_samples,
       sum(run_s) AS run_s, sum(idle_s) AS idle_s, sum(setup_s) AS setup_s,
       sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX IF NOT EXISTS oee_hourly_key ON oee_hourly (level, entity_id, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS oee_daily AS
SELECT date_bin(INTERVAL '1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       level, entity_id,
       sum(windows)::bigint AS windows, sum(samples) AS samples,
       sum(late_samples) AS late_samples, sum(run_s) AS run_s, sum(idle_s) AS idle_s,
       sum(setup_s) AS setup_s, sum(down_s) AS down_s, sum(planned_stop_s) AS planned_stop_s,
       sum(unknown_s) AS unknown_s, sum(planned_s) AS planned_s,
       sum(ideal_run_s) AS ideal_run_s, sum(count_total) AS count_total,
       sum(count_good) AS count_good
FROM oee_hourly
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX IF NOT EXISTS oee_daily_key ON oee_daily (level, entity_id, bucket);
