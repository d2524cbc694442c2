-- Downtime by reason, MTBF and MTTR over long ranges: the seconds and episodes of each
-- device × UTC hour × state × reason, stored. v_state_interval's rules (0012), but cut at the
-- hours' edges, so that whole hours add up to what the panels compute from the samples over
-- a range that starts and ends on the hour (docs/dashboards.md, "Long ranges").
--
-- Not a continuous aggregate: an interval needs the device's next sample, which may lie in
-- the next bucket, and a continuous aggregate groups each bucket's rows alone. A plain table
-- on both paths, written only by refresh_state_hourly below, which `iiot db maintain` calls
-- for closed hours (sinks/state_rollup.py). A refresh replaces its hours whole: running it
-- again, or after a crash, leaves the same rows.
CREATE TABLE IF NOT EXISTS state_hourly (
    device_id text NOT NULL,
    bucket    timestamptz NOT NULL,
    state     text NOT NULL,
    reason    text NOT NULL,  -- '' while running: a key column cannot be null
    seconds   double precision NOT NULL,
    episodes  integer NOT NULL,  -- episodes that start in the hour
    ongoing   boolean NOT NULL,  -- an interval of this state and reason is under way at its start
    PRIMARY KEY (device_id, bucket, state, reason)
);

-- How far the hours are refreshed: `iiot db maintain` starts a little before it.
CREATE TABLE IF NOT EXISTS state_hourly_mark (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    refreshed_to timestamptz NOT NULL
);

-- The hours in [lo, hi) (whole UTC hours) recomputed from telemetry: intervals with LEAD/LAG
-- over the samples from 3 h before (max_gap ≤ 3 × 3,600 s) to 3 h after, each cut into the
-- hours it overlaps. Returns the rows written.
CREATE OR REPLACE FUNCTION refresh_state_hourly(lo timestamptz, hi timestamptz) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    written bigint;
BEGIN
    lo := date_trunc('hour', lo, 'UTC');
    hi := date_trunc('hour', hi, 'UTC');
    -- One refresh at a time; readers go on reading the rows it replaces until it commits.
    LOCK TABLE state_hourly IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM state_hourly WHERE bucket >= lo AND bucket < hi;
    INSERT INTO state_hourly
    SELECT i.device_id, h.bucket, i.st, COALESCE(i.cause, ''),
           sum(extract(epoch FROM LEAST(i.until, h.bucket + INTERVAL '1 hour')
                                  - GREATEST(i.ts, h.bucket)))::double precision,
           count(*) FILTER (WHERE i.episode AND i.ts >= h.bucket),
           bool_or(i.ts < h.bucket)
    FROM (
        SELECT device_id, ts, st, cause, LEAST(nt, ts + gap) AS until,
               pt IS NULL OR pt < ts - gap OR ps <> st OR pc IS DISTINCT FROM cause AS episode
        FROM (
            SELECT t.device_id, t.ts, t.state AS st,
                   CASE WHEN t.state <> 'running' THEN COALESCE(t.reason, 'unspecified') END
                       AS cause,
                   d.sample_interval_s * 3 * INTERVAL '1 second' AS gap,
                   lead(t.ts) OVER w AS nt, lag(t.ts) OVER w AS pt, lag(t.state) OVER w AS ps,
                   lag(CASE WHEN t.state <> 'running' THEN COALESCE(t.reason, 'unspecified')
                       END) OVER w AS pc
            FROM telemetry t JOIN device d USING (device_id)
            WHERE t.ts >= lo - INTERVAL '3 hours' AND t.ts < hi + INTERVAL '3 hours'
            WINDOW w AS (PARTITION BY t.device_id ORDER BY t.ts, t.seq)
        ) x
    ) i
    CROSS JOIN LATERAL generate_series(
        GREATEST(date_trunc('hour', i.ts, 'UTC'), lo),
        LEAST(i.until, hi) - INTERVAL '1 microsecond', INTERVAL '1 hour'
    ) AS h (bucket)
    WHERE i.ts < hi AND i.until > lo
    GROUP BY 1, 2, 3, 4;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO state_hourly_mark (refreshed_to) VALUES (hi)
    ON CONFLICT (one) DO UPDATE
        SET refreshed_to = GREATEST(state_hourly_mark.refreshed_to, EXCLUDED.refreshed_to);
    RETURN written;
END
$$;
-- The owner's (`iiot db maintain` migrates and maintains as iiot_migrator), not everyone's.
REVOKE ALL ON FUNCTION refresh_state_hourly(timestamptz, timestamptz) FROM PUBLIC;

-- What the dashboards read: the registry's line beside each device, NULL reason while running
-- (as v_state_interval has it).
CREATE OR REPLACE VIEW v_state_rollup AS
SELECT s.bucket, s.device_id, d.line_id, s.state, NULLIF(s.reason, '') AS reason, s.seconds,
       s.episodes, s.ongoing
FROM state_hourly s JOIN device d USING (device_id);
