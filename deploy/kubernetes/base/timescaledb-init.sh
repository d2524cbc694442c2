#!/usr/bin/env bash
# Roles and database of the pipeline, as deploy/local/postgres/bootstrap.sql makes them on a dev
# box, with the passwords from the Secret. The postgres entrypoint runs this once, on an empty
# volume, after the TimescaleDB image's own scripts; it is idempotent, so running it again (to
# change the passwords) is safe:
#   kubectl exec -n iiot timescaledb-0 -- bash /docker-entrypoint-initdb.d/900_iiot.sh
#   iiot_writer  owns database iiot: the migrate Job and the sink
#   iiot_reader  reads whatever the writer creates, never writes: Grafana
set -euo pipefail

psql -X -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v writer_password="$PG_WRITER_PASSWORD" -v reader_password="$PG_READER_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE iiot_writer LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_writer') \gexec
SELECT 'CREATE ROLE iiot_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iiot_reader') \gexec
ALTER ROLE iiot_writer LOGIN NOSUPERUSER NOCREATEROLE PASSWORD :'writer_password';
ALTER ROLE iiot_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
-- Even a table the reader could write to is refused in a read-only transaction.
ALTER ROLE iiot_reader SET default_transaction_read_only = on;

SELECT 'CREATE DATABASE iiot OWNER iiot_writer'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iiot') \gexec
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE iiot TO iiot_writer;
GRANT CONNECT ON DATABASE iiot TO iiot_reader;

\connect iiot
-- The writer is no superuser and may not create TimescaleDB itself; without the extension the
-- migrations take the plain PostgreSQL path (sinks/migrate.py).
SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb'
WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO iiot_writer;
GRANT USAGE ON SCHEMA public TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT USAGE ON SCHEMAS TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT SELECT ON TABLES TO iiot_reader;
SQL
