"""PostgreSQL, one role per job: the migrator owns and migrates, the writer (the sink) writes
rows only, the reader (Grafana's role) only reads and its runaway queries are cancelled.

Each refusal is checked by privilege, the real guard, with the reader's read-only default
switched off as any session may do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors, sql

from iiot.settings import Settings
from sinks.migrate import migrate, pending_files
from sinks.partitions import PartitionKeeper, maintain, partitions_of, policies

pytestmark = pytest.mark.integration

READER_STATEMENT_TIMEOUT_S = 30  # deploy/local/postgres/bootstrap.sql, docs/operations.md
FAR = datetime(2031, 3, 5, 8, tzinfo=UTC)  # a day no `maintain` has made a partition for


@pytest.fixture(scope="module")
def plant(settings: Settings, pg_schema: str) -> Iterator[str]:
    """A schema as `iiot db migrate` and `iiot db maintain` leave it: `<run schema>_roles`."""
    schema = f"{pg_schema}_roles"
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
        migrate(conn, schema, settings)
        maintain(conn, schema)
    yield schema
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_roles_are_who_they_say(
    migrator: psycopg.Connection, writer: psycopg.Connection, reader: psycopg.Connection
) -> None:
    for conn, role in ((migrator, "iiot_migrator"), (writer, "iiot_writer"),
                       (reader, "iiot_reader")):  # fmt: skip
        assert conn.execute("SELECT current_user").fetchone() == (role,)
        powers = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert powers == (False, False, False), role


def test_the_migrator_migrates_and_owns_everything(
    migrator: psycopg.Connection, settings: Settings, plant: str
) -> None:
    recorded = migrator.execute(
        sql.SQL("SELECT version FROM {} ORDER BY 1").format(
            sql.Identifier(plant, "schema_migrations")
        )
    ).fetchall()
    assert [v for (v,) in recorded] == [p.stem for p in pending_files("plain")]
    owners = migrator.execute(
        """SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s""",
        (plant,),
    ).fetchall()
    assert owners == [("iiot_migrator",)]
    assert maintain(migrator, plant).refreshed  # REFRESH and DROP: the owner's work


def test_writer_writes_rows_and_reader_reads_them(
    writer: psycopg.Connection, reader: psycopg.Connection, plant: str
) -> None:
    writer.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(plant)))
    writer.execute(
        "INSERT INTO enterprise VALUES ('zb-cnc', 'Zibo CNC', 'zibo', 'components', false, now())"
    )
    writer.execute("UPDATE enterprise SET cloud = true WHERE enterprise_id = 'zb-cnc'")
    rows = reader.execute(
        sql.SQL("SELECT enterprise_id, cloud FROM {}").format(sql.Identifier(plant, "enterprise"))
    ).fetchall()
    assert rows == [("zb-cnc", True)]
    writer.execute("DELETE FROM enterprise WHERE enterprise_id = 'zb-cnc'")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE {schema}.sneaky (x int)",
        "CREATE TABLE public.sneaky (x int)",
        "CREATE SCHEMA sneaky",
        "ALTER TABLE {schema}.alarm ADD COLUMN sneaky int",
        "ALTER TABLE {schema}.telemetry DETACH PARTITION {schema}.{partition}",
        "DROP TABLE {schema}.alarm",
        "DROP TABLE {schema}.{partition}",
        "TRUNCATE {schema}.alarm",
        "CREATE INDEX sneaky ON {schema}.alarm (ts)",
        "CREATE TABLE {schema}.telemetry_p20310305 PARTITION OF {schema}.telemetry"
        " FOR VALUES FROM ('2031-03-05 00:00+00') TO ('2031-03-06 00:00+00')",
        "REFRESH MATERIALIZED VIEW {schema}.oee_daily",
        "CREATE FUNCTION {schema}.sneaky() RETURNS int LANGUAGE sql RETURN 1",
        # Rows, but the ones that steer partitions, retention and migrations: the owner's.
        "UPDATE {schema}.partition_policy SET retention = '1 day'",
        "INSERT INTO {schema}.partition_policy VALUES ('alarm', '1 day', '1 day')",
        "DELETE FROM {schema}.schema_migrations",
    ],
)
def test_writer_changes_no_table(writer: psycopg.Connection, plant: str, statement: str) -> None:
    partition = partitions_of(writer, plant, "telemetry")[0]
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute(statement.format(schema=plant, partition=partition))


def test_writer_gets_a_partition_only_through_the_owners_function(
    writer: psycopg.Connection, plant: str
) -> None:
    """The sink's path on plain PostgreSQL: a row for a day without a partition."""
    insert = sql.SQL(
        "INSERT INTO {} VALUES ('zb-cnc-01', 1, %s, 'running', 1, 1, 12.5, null, '{{}}')"
    ).format(sql.Identifier(plant, "telemetry"))
    with pytest.raises(errors.CheckViolation):  # no partition of "telemetry" for that row
        writer.execute(insert, (FAR,))
    keeper = PartitionKeeper(plant, policies(writer, plant))
    keeper.ensure(writer, "telemetry", [FAR])
    writer.execute(insert, (FAR,))
    owner = writer.execute(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s::regclass",
        (f"{plant}.telemetry_p20310305",),
    ).fetchone()
    assert owner == ("iiot_migrator",)
    # Only what partition_policy names, even with a temp table of the same name in the way.
    writer.execute("CREATE TEMP TABLE partition_policy (parent text, span interval)")
    writer.execute("INSERT INTO partition_policy VALUES ('alarm', '1 day')")
    ensure = sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(plant, "ensure_partition"))
    with pytest.raises(errors.UndefinedTable, match="no partition policy"):
        writer.execute(ensure, ("alarm", FAR))
    writer.execute("DROP TABLE pg_temp.partition_policy")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {schema}.enterprise VALUES ('x', 'x', 'jinan', 'x', false, now())",
        "UPDATE {schema}.enterprise SET cloud = true",
        "DELETE FROM {schema}.enterprise",
        "TRUNCATE {schema}.enterprise",
        "DROP TABLE {schema}.enterprise",
        "CREATE TABLE {schema}.sneaky (x int)",
        "CREATE SCHEMA sneaky",
        "REFRESH MATERIALIZED VIEW {schema}.oee_daily",
        "SELECT {schema}.ensure_partition('telemetry', now())",
    ],
)
def test_reader_is_refused_every_write(
    reader: psycopg.Connection, plant: str, statement: str
) -> None:
    # The role defaults to read-only transactions, but any session may switch that off:
    # privileges are the real guard, so test them with it off.
    reader.execute("SET default_transaction_read_only = off")
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute(statement.format(schema=plant))


def test_readers_runaway_query_is_cancelled(reader: psycopg.Connection) -> None:
    """The role's own statement_timeout, not one the test sets: a dashboard query that runs
    away is cancelled by the database."""
    assert reader.execute("SHOW statement_timeout").fetchone() == (
        f"{READER_STATEMENT_TIMEOUT_S}s",
    )
    started = time.monotonic()
    with pytest.raises(errors.QueryCanceled, match="statement timeout"):
        reader.execute("SELECT pg_sleep(%s)", (READER_STATEMENT_TIMEOUT_S * 3,))
    assert READER_STATEMENT_TIMEOUT_S <= time.monotonic() - started < READER_STATEMENT_TIMEOUT_S * 2
