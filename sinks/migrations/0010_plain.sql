-- Plain PostgreSQL: the partitions the sink needs, made without the sink owning any table.
-- The sink writes as a role that may only read and write rows (docs/operations.md, "Roles"),
-- yet a row whose day has no partition yet needs one: late or replayed data, or a
-- `db maintain` that has not run. This function runs with its owner's rights (the role that
-- migrated) and makes only the partition partition_policy gives a timestamp, so the caller
-- can create nothing else through it. `iiot db maintain` still makes them days ahead.
-- TimescaleDB needs none of this: it makes its chunks itself, owned by the hypertable's owner.
--
-- Every name inside is qualified with the schema (current_schema() under the search path
-- fixed at creation), and pg_temp is never searched for them: a caller's temp table cannot
-- stand in for partition_policy.
CREATE OR REPLACE FUNCTION ensure_partition(parent_table text, ts timestamptz) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    SET timezone = 'UTC'
    SET datestyle = 'ISO, YMD'
AS $$
DECLARE
    home text := current_schema();
    width interval;
    lower_bound timestamptz;
    part text;
BEGIN
    EXECUTE format('SELECT span FROM %I.partition_policy WHERE parent = $1', home)
        INTO width USING parent_table;
    IF width IS NULL THEN
        RAISE EXCEPTION 'no partition policy for %.%', home, parent_table
            USING ERRCODE = 'undefined_table';
    END IF;
    -- As sinks/partitions.py's Policy: bounds aligned to the span from 2000-01-01 UTC.
    lower_bound := date_bin(width, ts, TIMESTAMPTZ '2000-01-01 00:00:00+00');
    part := parent_table || '_p' || to_char(lower_bound, 'YYYYMMDD');
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
        home, part, home, parent_table, lower_bound, lower_bound + width);
    RETURN part;
EXCEPTION WHEN duplicate_table OR unique_violation THEN
    RETURN part;  -- a twin sink made it a moment earlier: what we wanted
END
$$;

-- Functions are everyone's to call unless revoked; this one is the writer's only (its grant
-- comes from the migrator's default privileges, deploy/local/postgres/bootstrap.sql).
REVOKE ALL ON FUNCTION ensure_partition(text, timestamptz) FROM PUBLIC;

-- The tables that steer the migrations and the partitions are the migrator's to write: a role
-- the default privileges gave writes on every table (the sink's) keeps SELECT on them only.
DO $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid IN ('partition_policy'::regclass, 'schema_migrations'::regclass)
          AND a.grantee <> c.relowner
          AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format(
            'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON partition_policy, schema_migrations'
            ' FROM %s', CASE grantee WHEN 0 THEN 'PUBLIC' ELSE grantee::regrole::text END);
    END LOOP;
END
$$;
