-- Downtime by reason, MTBF and MTTR (docs/kpi.md, "Downtime, MTBF, MTTR"): the time each
-- sample's state holds, read from raw telemetry by the interval rules the stream applies. A
-- sample's state holds from its ts until the device's next sample, at most max_gap = 3 × the
-- device's sample_interval_s (IIOT_MAX_GAP_INTERVALS' default; the registry's current
-- interval). An episode is a run of consecutive samples of one state and reason whose
-- intervals touch: time no sample covers (a gap longer than max_gap) ends it.
--
-- The next and the previous sample are looked up per row (LATERAL … LIMIT 1, on the primary
-- key's index, bounded by max_gap) rather than with LEAD/LAG: a window function stops a
-- query's time filter at the window (PostgreSQL pushes only quals on PARTITION BY columns
-- below it), so a 24-hour panel would number every sample the devices ever sent; with the
-- lookups, `WHERE line_id = … AND ts >= …` reaches the index and the chunks or partitions of
-- the range. Views only, the same on both paths; every statement is idempotent.
CREATE OR REPLACE VIEW v_state_interval AS
SELECT t.device_id, d.line_id, d.plant_id, d.enterprise_id, t.ts, t.seq, t.state,
       CASE WHEN t.state <> 'running' THEN COALESCE(t.reason, 'unspecified') END AS reason,
       LEAST(n.ts, t.ts + g.max_gap) AS until,
       extract(epoch FROM LEAST(n.ts, t.ts + g.max_gap) - t.ts)::double precision AS seconds,
       (p.state IS NULL
        OR p.state <> t.state
        OR CASE WHEN p.state <> 'running' THEN COALESCE(p.reason, 'unspecified') END
           IS DISTINCT FROM
           CASE WHEN t.state <> 'running' THEN COALESCE(t.reason, 'unspecified') END
       ) AS episode_start
FROM v_telemetry t
JOIN v_device d ON d.device_id = t.device_id
CROSS JOIN LATERAL (SELECT d.sample_interval_s * 3 * INTERVAL '1 second' AS max_gap) g
LEFT JOIN LATERAL (
    SELECT x.ts FROM v_telemetry x
    WHERE x.device_id = t.device_id AND x.ts >= t.ts AND x.ts <= t.ts + g.max_gap
      AND (x.ts, x.seq) > (t.ts, t.seq)
    ORDER BY x.ts, x.seq LIMIT 1
) n ON true
LEFT JOIN LATERAL (
    SELECT x.state, x.reason FROM v_telemetry x
    WHERE x.device_id = t.device_id AND x.ts <= t.ts AND x.ts >= t.ts - g.max_gap
      AND (x.ts, x.seq) < (t.ts, t.seq)
    ORDER BY x.ts DESC, x.seq DESC LIMIT 1
) p ON true;

-- Per device, UTC hour, state and reason: seconds and the episodes that start in the hour.
-- An interval's seconds count in the hour it begins (it spills at most max_gap into the next).
CREATE OR REPLACE VIEW v_state_hourly AS
SELECT date_trunc('hour', ts, 'UTC') AS bucket, device_id, line_id, state, reason,
       sum(seconds) AS seconds, count(*) FILTER (WHERE episode_start) AS episodes
FROM v_state_interval
GROUP BY 1, 2, 3, 4, 5;
