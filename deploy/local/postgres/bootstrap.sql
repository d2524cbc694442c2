-- Roles and database of the deploy/local cluster. Idempotent: stack.sh runs it on every `up`
-- as the superuser over the unix socket (psql -v ON_ERROR_STOP=1).
--   iiot_writer / iiot_writer  owns database iiot: runs migrations, creates per-test schemas.
--   iiot_reader / iiot_reader  reads whatever the writer creates, never writes (Grafana's role).
--   postgres    / postgres     superuser, for admin use over TCP.

ALTER ROLE postgres PASSWORD 'postgres';

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
ALTER ROLE iiot_writer LOGIN NOSUPERUSER NOCREATEROLE PASSWORD 'iiot_writer';
ALTER ROLE iiot_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'iiot_reader';
-- Belt and braces: even a table the reader could write to is refused in a read-only transaction.
ALTER ROLE iiot_reader SET default_transaction_read_only = on;

SELECT 'CREATE DATABASE iiot OWNER iiot_writer'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'iiot') \gexec
ALTER DATABASE iiot OWNER TO iiot_writer;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE iiot TO iiot_writer;
GRANT CONNECT ON DATABASE iiot TO iiot_reader;

\connect iiot
-- Nobody but the writer creates objects in public (PostgreSQL 15 already revokes it; be explicit).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO iiot_writer;
GRANT USAGE ON SCHEMA public TO iiot_reader;
-- Whatever schema or table the writer creates anywhere in iiot is readable by the reader
-- (default privileges live per database, not schema-scoped here, so they cover every schema).
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT USAGE ON SCHEMAS TO iiot_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE iiot_writer GRANT SELECT ON TABLES TO iiot_reader;
