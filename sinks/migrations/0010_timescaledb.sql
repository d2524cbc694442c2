-- TimescaleDB: the sink makes no partitions (TimescaleDB makes its chunks itself, owned by
-- the hypertable's owner), so only this of 0010_plain: the migrations' own record is the
-- migrator's to write; a role the default privileges gave writes on every table (the sink's)
-- keeps SELECT on it only.
DO $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'schema_migrations'::regclass AND a.grantee <> c.relowner
          AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %s',
                       CASE grantee WHEN 0 THEN 'PUBLIC' ELSE grantee::regrole::text END);
    END LOOP;
END
$$;
