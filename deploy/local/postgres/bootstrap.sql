-- Roles and database of the deploy/local cluster. Idempotent: stack.sh runs it as the superuser
-- over the unix socket (psql -v ON_ERROR_STOP=1) when it makes the cluster and again on `up`
-- whenever this file changed.
--   iiot_migrator / iiot_migrator  owns database iiot and every schema, table and view in it:
--                                  `iiot db migrate`, `iiot db maintain`, per-test schemas.
--   iiot_writer   / iiot_writer    the sink: SELECT, INSERT, UPDATE, DELETE on the migrator's
--                                  tables, partitions only through ensure_partition() (0010).
--   iiot_reader   / iiot_reader    Grafana's role: SELECT only, queries cut at 30 s.
--   postgres      / postgres       superuser, for admin use over TCP.

ALTER ROLE postgres PASSWORD 'postgres';

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_migrator') THEN
    CREATE ROLE iiot_migrator LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_writer') THEN
    CREATE ROLE iiot_writer LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_reader') THEN
    CREATE ROLE iiot_reader LOGIN;
  END IF;
END
$$;
ALTER ROLE iiot_migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'iiot_migrator';
ALTER ROLE iiot_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'iiot_writer';
ALTER ROLE iiot_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'iiot_reader';
-- Belt and braces: even a table the reader could write to is refused in a read-only transaction.
ALTER ROLE iiot_reader SET default_transaction_read_only = on;
-- A runaway dashboard query is cancelled, not left to load the database (docs/operations.md).
ALTER ROLE iiot_reader SET statement_timeout = '30s';

SELECT 'CREATE DATABASE iiot OWNER iiot_migrator'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iiot') \gexec

\connect iiot
-- A cluster bootstrapped before the migrator existed has the writer owning the database and
-- everything migrated: hand it all over, once (REASSIGN also moves the database itself), with
-- the rights on it that the default privileges below give on what is created from now on.
DO $$
DECLARE
  home name;
BEGIN
  IF (SELECT datdba FROM pg_database WHERE datname = 'iiot') = 'iiot_writer'::regrole::oid THEN
    REASSIGN OWNED BY iiot_writer TO iiot_migrator;
    FOR home IN
      SELECT nspname FROM pg_namespace
      WHERE nspowner = 'iiot_migrator'::regrole::oid AND nspname NOT LIKE 'pg\_%'
    LOOP
      EXECUTE format('GRANT USAGE ON SCHEMA %I TO iiot_writer, iiot_reader', home);
      EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO iiot_writer', home);
      EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO iiot_reader', home);
      EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO iiot_writer', home);
    END LOOP;
  END IF;
END
$$;
ALTER DATABASE iiot OWNER TO iiot_migrator;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE iiot TO iiot_migrator;
-- TEMPORARY: the sink stages its rows in temp tables. No CREATE: it makes no schema.
GRANT CONNECT, TEMPORARY ON DATABASE iiot TO iiot_writer;
REVOKE CREATE ON DATABASE iiot FROM iiot_writer;
GRANT CONNECT ON DATABASE iiot TO iiot_reader;
-- Nobody but the migrator creates objects in public (PostgreSQL 15 already revokes it).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM iiot_writer;
GRANT USAGE, CREATE ON SCHEMA public TO iiot_migrator;
GRANT USAGE ON SCHEMA public TO iiot_writer, iiot_reader;
-- Whatever the migrator creates anywhere in iiot: the writer writes its rows, the reader reads
-- them (default privileges live per database, not schema-scoped here, so they cover every
-- schema). No TRUNCATE, no REFERENCES, no TRIGGER: those stay with the owner. The writer may
-- call the migrator's functions: ensure_partition (0010) revokes PUBLIC's right to it, and
-- takes the writer's writes on partition_policy and schema_migrations back.
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_migrator GRANT USAGE ON SCHEMAS TO iiot_writer, iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_migrator
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO iiot_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_migrator GRANT SELECT ON TABLES TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_migrator GRANT EXECUTE ON FUNCTIONS TO iiot_writer;
