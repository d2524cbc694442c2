#!/usr/bin/env bash
# Roles and database of the pipeline: deploy/local/postgres/bootstrap.sql's statements (kustomize
# cannot reach that file; tests/deploy/test_kubernetes_scripts.py holds them equal), with the
# passwords from the Secret and the TimescaleDB extension made by the superuser. The postgres
# entrypoint runs it once, on an empty volume, after the image's own scripts. It is idempotent,
# so it may be run again, e.g. after changing the passwords in the Secret, or to bring a
# database made before iiot_migrator existed up to the three roles:
#   kubectl exec -n iiot timescaledb-0 -- /docker-entrypoint-initdb.d/900_iiot.sh
#   iiot_migrator  owns database iiot and the schema: the migrate Job, the maintain CronJob
#   iiot_writer    reads and writes rows, changes no table: the sink
#   iiot_reader    reads, never writes, statement_timeout 30s: Grafana
set -eo pipefail

# psql quotes :'var' itself, so any character in a password is safe here.
psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v migrator_password="${PG_MIGRATOR_PASSWORD:?}" -v writer_password="${PG_WRITER_PASSWORD:?}" \
  -v reader_password="${PG_READER_PASSWORD:?}" <<'SQL'
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
ALTER ROLE iiot_migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'migrator_password';
ALTER ROLE iiot_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'writer_password';
ALTER ROLE iiot_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
-- Belt and braces: even a table the reader could write to is refused in a read-only transaction.
ALTER ROLE iiot_reader SET default_transaction_read_only = on;
-- A runaway dashboard query is cancelled, not left to load the database (docs/operations.md).
ALTER ROLE iiot_reader SET statement_timeout = '30s';

SELECT 'CREATE DATABASE iiot OWNER iiot_migrator'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iiot') \gexec

\connect iiot
-- The roles are no superusers and may not create TimescaleDB themselves; where the server lacks
-- the extension the migrations take the plain PostgreSQL path (sinks/migrate.py).
SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb'
WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') \gexec
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
SQL
