-- Availability of an hour or a day with no planned time is null, as the stream's is
-- (docs/kpi.md): 0006 wrote LEAST(run_s / NULLIF(planned_s, 0), 1.0), and PostgreSQL's LEAST
-- skips nulls, so such a bucket read 1.0. Clamping the parts before dividing keeps the null.
CREATE OR REPLACE VIEW v_oee_rollup AS
SELECT grain, bucket, level, entity_id, windows, samples, late_samples, run_s, idle_s,
       setup_s, down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s, count_total,
       count_good,
       LEAST(run_s, planned_s) / NULLIF(planned_s, 0) AS availability,
       ideal_run_s / NULLIF(run_s, 0) AS performance,
       count_good::double precision / NULLIF(count_total, 0) AS quality,
       CASE WHEN planned_s > 0 THEN
           ideal_run_s * COALESCE(count_good::double precision / NULLIF(count_total, 0), 0)
           / planned_s
       END AS oee
FROM (SELECT 'hour' AS grain, * FROM oee_hourly
      UNION ALL SELECT 'day', * FROM oee_daily) AS r;
