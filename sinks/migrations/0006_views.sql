-- The stable surface the dashboards query (docs/schema.md). Tables and roll-ups behind them
-- may change; these names and columns do not. Ratios are recomputed from added parts,
-- exactly as iiot.kpi.oee_ratios does: null on a zero denominator, OEE 0 when no part was made.

CREATE OR REPLACE VIEW v_device AS
SELECT d.device_id, d.enterprise_id, e.name AS enterprise_name, e.city, e.industry, e.cloud,
       d.plant_id, d.line_id, d.kind, d.key_process, d.numerically_controlled,
       d.sample_interval_s, d.ideal_cycle_s, d.announced_at
FROM device d JOIN enterprise e USING (enterprise_id);

CREATE OR REPLACE VIEW v_enterprise AS
SELECT enterprise_id, name AS enterprise_name, city, industry, cloud, announced_at
FROM enterprise;

CREATE OR REPLACE VIEW v_telemetry AS
SELECT device_id, ts, seq, state, count_total, count_good, ideal_cycle_s, product, metrics
FROM telemetry;

-- One row per (sample, metric): the narrow shape for time-series panels.
CREATE OR REPLACE VIEW v_telemetry_metric AS
SELECT t.device_id, t.ts, m.key AS metric, m.value::double precision AS value
FROM telemetry t CROSS JOIN LATERAL jsonb_each_text(t.metrics) AS m;

-- Hourly and daily roll-ups side by side (`grain` = 'hour' | 'day'); the per-grain views
-- below filter it, and PostgreSQL reads only the matching branch.
CREATE OR REPLACE VIEW v_metric_rollup AS
SELECT grain, bucket, device_id, metric, samples, value_sum, value_min, value_max,
       value_sum / NULLIF(samples, 0) AS value_mean
FROM (SELECT 'hour' AS grain, * FROM metric_hourly
      UNION ALL SELECT 'day', * FROM metric_daily) AS r;
CREATE OR REPLACE VIEW v_metric_hourly AS SELECT * FROM v_metric_rollup WHERE grain = 'hour';
CREATE OR REPLACE VIEW v_metric_daily AS SELECT * FROM v_metric_rollup WHERE grain = 'day';

CREATE OR REPLACE VIEW v_oee AS
SELECT level, entity_id, window_start, window_end, revision, devices, samples, late_samples,
       run_s, idle_s, setup_s, down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s,
       count_total, count_good, availability, performance, quality, oee, performance_suspect
FROM oee;

CREATE OR REPLACE VIEW v_oee_rollup AS
SELECT grain, bucket, level, entity_id, windows, samples, late_samples, run_s, idle_s,
       setup_s, down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s, count_total,
       count_good,
       LEAST(run_s / NULLIF(planned_s, 0), 1.0) AS availability,
       ideal_run_s / NULLIF(run_s, 0) AS performance,
       count_good::double precision / NULLIF(count_total, 0) AS quality,
       CASE WHEN planned_s > 0 THEN
           ideal_run_s * COALESCE(count_good::double precision / NULLIF(count_total, 0), 0)
           / planned_s
       END AS oee
FROM (SELECT 'hour' AS grain, * FROM oee_hourly
      UNION ALL SELECT 'day', * FROM oee_daily) AS r;
CREATE OR REPLACE VIEW v_oee_hourly AS SELECT * FROM v_oee_rollup WHERE grain = 'hour';
CREATE OR REPLACE VIEW v_oee_daily AS SELECT * FROM v_oee_rollup WHERE grain = 'day';

CREATE OR REPLACE VIEW v_digitization AS
SELECT g.enterprise_id, e.name AS enterprise_name, e.city, e.industry,
       g.window_start, g.window_end, g.revision, g.devices_registered, g.devices_reporting,
       g.samples_received, g.samples_expected, g.key_process_devices,
       g.key_process_nc_reporting, g.devices_with_oee, g.cloud, g.connectivity,
       g.completeness, g.key_process_nc, g.oee_coverage, g.index
FROM digitization g LEFT JOIN enterprise e USING (enterprise_id);

CREATE OR REPLACE VIEW v_alarm AS
SELECT device_id, kind, status, ts, raised_at, value, threshold, message
FROM alarm;

-- Episodes raised and not (yet) cleared.
CREATE OR REPLACE VIEW v_alarm_open AS
SELECT r.device_id, r.kind, r.raised_at, r.value, r.threshold, r.message
FROM alarm r
WHERE r.status = 'raised'
  AND NOT EXISTS (SELECT 1 FROM alarm c WHERE c.status = 'cleared'
                  AND (c.device_id, c.kind, c.raised_at) = (r.device_id, r.kind, r.raised_at));

CREATE OR REPLACE VIEW v_deadletter AS
SELECT received_at, stage, code, reason, topic, partition, "offset", key, timestamp_ms,
       payload, payload_b64
FROM deadletter;
