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
