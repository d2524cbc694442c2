#!/usr/bin/env bash
# Roles and database of the pipeline: deploy/local/postgres/bootstrap.sql's statements (kustomize
# cannot reach that file; tests/deploy/test_kubernetes_scripts.py holds them equal), with the
# passwords from the Secret and the TimescaleDB extension made by the superuser. The postgres
# entrypoint runs it once, on an empty volume, after the image's own scripts. It is idempotent,
# so it may be run again, e.g. after changing the passwords in the Secret:
#   kubectl exec -n iiot timescaledb-0 -- /docker-entrypoint-initdb.d/900_iiot.sh
#   iiot_writer  owns database iiot: the migrate Job and the sink
#   iiot_reader  reads whatever the writer creates, never writes: Grafana
set -eo pipefail

# psql quotes :'var' itself, so any character in a password is safe here.
psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v writer_password="${PG_WRITER_PASSWORD:?}" -v reader_password="${PG_READER_PASSWORD:?}" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_writer') THEN
    CREATE ROLE iiot_writer LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_reader') THEN
    CREATE ROLE iiot_reader LOGIN;
  END IF;
END
$$;
ALTER ROLE iiot_writer LOGIN NOSUPERUSER NOCREATEROLE PASSWORD :'writer_password';
ALTER ROLE iiot_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
ALTER ROLE iiot_reader SET default_transaction_read_only = on;

SELECT 'CREATE DATABASE iiot OWNER iiot_writer'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iiot') \gexec
ALTER DATABASE iiot OWNER TO iiot_writer;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE iiot TO iiot_writer;
GRANT CONNECT ON DATABASE iiot TO iiot_reader;

\connect iiot
-- The writer is no superuser and may not create TimescaleDB itself; where the server lacks the
-- extension the migrations take the plain PostgreSQL path (sinks/migrate.py).
SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb'
WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO iiot_writer;
GRANT USAGE ON SCHEMA public TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT USAGE ON SCHEMAS TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT SELECT ON TABLES TO iiot_reader;
SQL
