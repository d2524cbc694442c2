"""PostgreSQL: the writer writes, the reader (Grafana's role) can only read."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

pytestmark = pytest.mark.integration


def test_writer_writes_and_reader_reads(writer: psycopg.Connection, reader: psycopg.Connection):
    writer.execute("CREATE TABLE machine (device_id text PRIMARY KEY, kind text NOT NULL)")
    writer.execute("INSERT INTO machine VALUES ('zb-cnc-01', 'cnc_machining_centre')")
    rows = reader.execute("SELECT device_id, kind FROM machine").fetchall()
    assert rows == [("zb-cnc-01", "cnc_machining_centre")]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO shift VALUES ('night')",
        "UPDATE shift SET name = 'late'",
        "DELETE FROM shift",
        "TRUNCATE shift",
        "DROP TABLE shift",
        "CREATE TABLE sneaky (x int)",
        "CREATE SCHEMA sneaky",
    ],
)
def test_reader_is_refused_every_write(
    writer: psycopg.Connection, reader: psycopg.Connection, statement: str
) -> None:
    writer.execute("CREATE TABLE IF NOT EXISTS shift (name text)")
    # The role defaults to read-only transactions, but any session may switch that off:
    # privileges are the real guard, so test them with it off.
    reader.execute("SET default_transaction_read_only = off")
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute(statement)


def test_roles_are_who_they_say(writer: psycopg.Connection, reader: psycopg.Connection) -> None:
    assert writer.execute("SELECT current_user").fetchone() == ("iiot_writer",)
    assert reader.execute("SELECT current_user").fetchone() == ("iiot_reader",)
    superuser = reader.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert superuser.fetchone() == (False,)
