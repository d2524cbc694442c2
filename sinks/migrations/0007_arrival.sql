-- Arrival time: when a row landed in this database, beside the event time every table has.
-- Operators ask "when did data last arrive?" and "how long after its event did it land?";
-- event time cannot say (a replay of last year's recording arrives today). It is the
-- database's clock, not the Kafka timestamp: it measures the whole way in, and it costs the
-- sink nothing per row — the column's DEFAULT fills it, since the sink names its columns in
-- COPY and INSERT. now() is the start of the sink's transaction: one value per checkpoint.
-- A row that replaces another (a higher revision, a newer birth) takes the new time: the
-- writer sets `arrived_at = DEFAULT` in its ON CONFLICT … DO UPDATE.
-- Added without a default, then given one: rows older than this migration keep NULL (their
-- arrival is unknown, not this migration's time). Tried on the WASM TimescaleDB with a
-- compressed chunk too.
DO $$
DECLARE
    written text;
BEGIN
    FOREACH written IN ARRAY ARRAY['enterprise', 'device', 'telemetry', 'oee', 'digitization',
                                   'alarm', 'deadletter'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS arrived_at timestamptz', written);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN arrived_at SET DEFAULT now()', written);
    END LOOP;
END $$;

-- Telemetry lands in arrival order, so a BRIN index (a few pages) finds "arrived in the last
-- hour" at almost no cost per write, where a B-tree would slow every one. Not on `oee`: its
-- rows are updated by revisions, and on PostgreSQL 15 an indexed column changed there would
-- stop those updates being HOT.
CREATE INDEX IF NOT EXISTS telemetry_arrived_idx ON telemetry USING brin (arrived_at);

-- The views gain the column at their end (CREATE OR REPLACE VIEW may only append).
CREATE OR REPLACE VIEW v_device AS
SELECT d.device_id, d.enterprise_id, e.name AS enterprise_name, e.city, e.industry, e.cloud,
       d.plant_id, d.line_id, d.kind, d.key_process, d.numerically_controlled,
       d.sample_interval_s, d.ideal_cycle_s, d.announced_at, d.arrived_at
FROM device d JOIN enterprise e USING (enterprise_id);

CREATE OR REPLACE VIEW v_enterprise AS
SELECT enterprise_id, name AS enterprise_name, city, industry, cloud, announced_at, arrived_at
FROM enterprise;

CREATE OR REPLACE VIEW v_telemetry AS
SELECT device_id, ts, seq, state, count_total, count_good, ideal_cycle_s, product, metrics,
       arrived_at
FROM telemetry;

CREATE OR REPLACE VIEW v_oee AS
SELECT level, entity_id, window_start, window_end, revision, devices, samples, late_samples,
       run_s, idle_s, setup_s, down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s,
       count_total, count_good, availability, performance, quality, oee, performance_suspect,
       arrived_at
FROM oee;

CREATE OR REPLACE VIEW v_digitization AS
SELECT g.enterprise_id, e.name AS enterprise_name, e.city, e.industry,
       g.window_start, g.window_end, g.revision, g.devices_registered, g.devices_reporting,
       g.samples_received, g.samples_expected, g.key_process_devices,
       g.key_process_nc_reporting, g.devices_with_oee, g.cloud, g.connectivity,
       g.completeness, g.key_process_nc, g.oee_coverage, g.index, g.arrived_at
FROM digitization g LEFT JOIN enterprise e USING (enterprise_id);

CREATE OR REPLACE VIEW v_alarm AS
SELECT device_id, kind, status, ts, raised_at, value, threshold, message, arrived_at
FROM alarm;

CREATE OR REPLACE VIEW v_deadletter AS
SELECT received_at, stage, code, reason, topic, partition, "offset", key, timestamp_ms,
       payload, payload_b64, arrived_at
FROM deadletter;
