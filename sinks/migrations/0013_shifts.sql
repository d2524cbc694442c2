-- Shifts (班次): each plant's shift calendar, as the latest DeviceBirth carrying one announced
-- it (docs/contract.md, "Shift calendar"), and the OEE windows put into their shift instance
-- (docs/kpi.md, "OEE per shift"). The same on both paths; every statement is idempotent.
--
-- One row per plant, its shifts as the birth gave them (jsonb): a calendar is replaced
-- whole, never merged shift by shift, so a shift dropped from it is gone. Births without a
-- calendar leave it as it is.
CREATE TABLE IF NOT EXISTS plant_calendar (
    plant_id     text PRIMARY KEY,
    time_zone    text NOT NULL,
    shifts       jsonb NOT NULL,
    announced_at timestamptz NOT NULL,  -- Kafka timestamp of the birth that last set it
    arrived_at   timestamptz DEFAULT now()  -- as every written table has (0007)
);

-- The stable surface (`iiot report` and the dashboards rely on these columns). One shift
-- instance on local date D runs from D + starts in time_zone to the next time `ends` comes
-- round: across midnight when ends <= starts (ends = starts: 24 hours).
CREATE OR REPLACE VIEW v_plant_shift AS
SELECT c.plant_id, s.id AS shift_id, s.name AS shift_name, s.start::time AS starts,
       s."end"::time AS ends, c.time_zone
FROM plant_calendar c
CROSS JOIN LATERAL jsonb_to_recordset(c.shifts) AS s(id text, name text, start text, "end" text);

-- Each OEE window of a device, line or plant in its shift instance: the local date the
-- instance starts on (`shift_date`, so a night shift's hours after midnight belong to the
-- day before) and its shift. A window belongs to the shift its start falls in.
-- `grain` = 'window' (the 1-minute windows) | 'hour' (the hourly roll-up, for long ranges:
-- an hour belongs to the shift its start falls in, exact when the shifts start on the hour
-- in a zone whole hours from UTC, as China's). Filter on `grain`, `level`, `entity_id` and
-- `window_start`: they reach the sources' keys; `shift_date` is computed and does not.
-- Add the parts per shift instance and recompute the ratios, never average them.
CREATE OR REPLACE VIEW v_oee_shift AS
SELECT o.grain, o.level, o.entity_id, ps.plant_id, d.shift_date, ps.shift_id, ps.shift_name,
       (d.shift_date + ps.starts) AT TIME ZONE ps.time_zone AS shift_start,
       (d.shift_date + ps.ends + CASE WHEN ps.ends <= ps.starts THEN interval '1 day'
                                      ELSE interval '0' END) AT TIME ZONE ps.time_zone
           AS shift_end,
       o.window_start, o.run_s, o.idle_s, o.setup_s, o.down_s, o.planned_stop_s, o.unknown_s,
       o.planned_s, o.ideal_run_s, o.count_total, o.count_good
FROM (SELECT 'window' AS grain, level, entity_id, window_start, run_s, idle_s, setup_s,
             down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s, count_total, count_good
      FROM v_oee
      UNION ALL
      SELECT 'hour', level, entity_id, bucket, run_s, idle_s, setup_s, down_s,
             planned_stop_s, unknown_s, planned_s, ideal_run_s, count_total, count_good
      FROM v_oee_hourly) AS o
-- The plant of each device, line and plant: the registry is small, the windows are many.
JOIN (SELECT 'device' AS level, device_id AS entity_id, plant_id FROM device
      UNION ALL SELECT DISTINCT 'line', line_id, plant_id FROM device
      UNION ALL SELECT DISTINCT 'plant', plant_id, plant_id FROM device) AS p
  ON p.level = o.level AND p.entity_id = o.entity_id
JOIN v_plant_shift ps ON ps.plant_id = p.plant_id
CROSS JOIN LATERAL (SELECT o.window_start AT TIME ZONE ps.time_zone AS local) AS l
CROSS JOIN LATERAL (
    SELECT CASE WHEN ps.ends <= ps.starts AND l.local::time < ps.ends
                THEN l.local::date - 1 ELSE l.local::date END AS shift_date
) AS d
WHERE CASE WHEN ps.starts < ps.ends
           THEN l.local::time >= ps.starts AND l.local::time < ps.ends
           ELSE l.local::time >= ps.starts OR l.local::time < ps.ends END;
