-- Unique keys of the roll-ups: `REFRESH MATERIALIZED VIEW CONCURRENTLY` (iiot db maintain)
-- needs them, and dashboards read through them.
CREATE UNIQUE INDEX IF NOT EXISTS metric_hourly_key ON metric_hourly (device_id, metric, bucket);
CREATE UNIQUE INDEX IF NOT EXISTS metric_daily_key ON metric_daily (device_id, metric, bucket);
CREATE UNIQUE INDEX IF NOT EXISTS oee_hourly_key ON oee_hourly (level, entity_id, bucket);
CREATE UNIQUE INDEX IF NOT EXISTS oee_daily_key ON oee_daily (level, entity_id, bucket);
