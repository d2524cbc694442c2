#!/usr/bin/env bash
# TimescaleDB container, first start only (docker-entrypoint-initdb.d): the roles, database
# and grants exactly as deploy/local has them (its bootstrap.sql, mounted at
# /iiot/bootstrap.sql), then this deployment's passwords from the environment in place of
# bootstrap.sql's development ones. The entrypoint's temporary server listens on its unix
# socket only, so those development passwords are never reachable over the network.
set -eo pipefail

admin=${POSTGRES_USER:-postgres}
bootstrap=${BOOTSTRAP_SQL:-/iiot/bootstrap.sql} # elsewhere when the tests run it on a host
psql -X -q -v ON_ERROR_STOP=1 -U "$admin" -d postgres -f "$bootstrap"
# psql quotes :'var' itself, so any character in a password is safe here.
psql -X -q -v ON_ERROR_STOP=1 -U "$admin" -d postgres \
  -v migrator="${MIGRATOR_PASSWORD:?}" -v writer="${WRITER_PASSWORD:?}" \
  -v reader="${READER_PASSWORD:?}" -v admin_password="${POSTGRES_PASSWORD:?}" <<'SQL'
ALTER ROLE iiot_migrator PASSWORD :'migrator';
ALTER ROLE iiot_writer PASSWORD :'writer';
ALTER ROLE iiot_reader PASSWORD :'reader';
ALTER ROLE postgres PASSWORD :'admin_password';
SQL
