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

-- TimescaleDB's time_bucket for the shared roll-up definitions (0004): buckets aligned to
-- 2000-01-01 UTC, so hours and days start on the hour and at midnight UTC.
CREATE OR REPLACE FUNCTION time_bucket(width interval, ts timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin(width, ts, TIMESTAMPTZ '2000-01-01 00:00:00+00');
