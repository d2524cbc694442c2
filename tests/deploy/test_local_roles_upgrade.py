"""An existing local stack gets the migrator on its next `up`: deploy/local/stack.sh applies
bootstrap.sql again when the file changed, and bootstrap.sql hands a database the writer owned
(as before iiot_migrator existed) to the migrator, leaving the writer its rows only.

On a private cluster of this test's own (its own port and state dir, purged afterwards): the
shared one's users rely on its roles as they are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import PartitionKeeper, policies
from tests.integration.private_stack import PrivateStack

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up("postgres")
        yield stack
    finally:
        stack.purge()


def _as_before_the_migrator(stack: PrivateStack, settings: Settings) -> None:
    """The database as the writer-owns-all bootstrap.sql left it, migrated before 0010."""
    admin = f"postgresql://postgres:postgres@127.0.0.1:{stack.ports['PG']}/iiot"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("ALTER DATABASE iiot OWNER TO iiot_writer")
        conn.execute("GRANT CREATE ON DATABASE iiot TO iiot_writer")
        conn.execute("GRANT CREATE ON SCHEMA public TO iiot_writer")
    with psycopg.connect(settings.pg_writer_dsn, autocommit=True) as conn:
        migrate(conn, "plant", settings)  # as `db migrate` did, as the writer; then undo 0010
        conn.execute("DROP FUNCTION plant.ensure_partition")
        conn.execute("DELETE FROM plant.schema_migrations WHERE version = '0010_plain'")


def test_an_old_stack_gets_the_migrator_on_up(stack: PrivateStack) -> None:
    settings = stack.settings()
    _as_before_the_migrator(stack, settings)
    applied = Path(stack.home) / "pg" / "bootstrap.sha256"
    assert applied.exists()
    stack.up("postgres")  # bootstrap.sql unchanged: not applied again
    with psycopg.connect(settings.pg_writer_dsn) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                             "WHERE nspname = 'plant'").fetchone()  # fmt: skip
        assert owner == ("iiot_writer",)

    applied.write_text("an older bootstrap.sql\n")
    stack.up("postgres")
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
        owners = conn.execute(
            """SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'plant'
               UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'iiot'"""
        ).fetchall()
        assert owners == [("iiot_migrator",)]
        assert migrate(conn, "plant", settings) == ("plain", ["0010_plain"])
    with psycopg.connect(settings.pg_writer_dsn, autocommit=True) as conn:
        ts = datetime(2030, 1, 2, 3, tzinfo=UTC)
        PartitionKeeper("plant", policies(conn, "plant")).ensure(conn, "telemetry", [ts])
        conn.execute(
            "INSERT INTO plant.telemetry VALUES ('wf-goer-01', 1, %s, 'idle', 0, 0, 1, null, '{}')",
            (ts,),
        )
        for statement in ("CREATE TABLE plant.sneaky (x int)", "CREATE SCHEMA sneaky",
                          "TRUNCATE plant.telemetry", "DROP TABLE plant.alarm"):  # fmt: skip
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL(statement))  # type: ignore[arg-type]
    with psycopg.connect(settings.pg_reader_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM plant.telemetry").fetchone() == (1,)
