"""Rows that used to stop the sink, on the real PostgreSQL: each is isolated and
dead-lettered with its reason, and the rows around it land."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from psycopg import sql

from iiot.contract import encode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.consumer import FAST_ROWS
from sinks.migrate import migrate
from sinks.partitions import PartitionKeeper, policies
from sinks.tables import JSONB_V1, TELEMETRY, Row
from sinks.telemetry_rows import fast_row
from sinks.writer import Batch, TableWriter
from tests.conftest import SAMPLE
from tests.integration import sink_support as s

pytestmark = pytest.mark.integration


def test_a_sample_dated_9999_is_refused_and_the_rest_lands(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """On plain PostgreSQL its partition's upper bound (year 10000) crashed the sink; now the
    contract refuses the year (iiot.types.DeviceTime) and the stream worker letters it. The
    writer still isolates such a row if one came (test_any_error_of_one_row… below)."""
    schema = sink_settings.pg_schema
    far = {**SAMPLE, "device_id": "qd-press00", "seq": 999, "ts": "9999-12-31T23:59:59.000Z"}
    records = [*s.samples(2, 10), (Topic.TELEMETRY, "qd-press00", orjson.dumps(far))]
    s.produce(sink_settings, [*records, *s.samples(2, 10, first_seq=10)])
    sink = s.drain(sink_settings, schema)
    assert s.count(writer, schema, "telemetry") == 40
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "deadletter"))
    assert writer.execute(query).fetchone() == (0,)  # the stream's to send (docs/contract.md)
    assert sink.stats.undecodable == 1


AT = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
POISON = {
    "seq 2^63": ("qd-press00", 2**63, AT, "running", 1, 1, None, None, None, JSONB_V1 + b"{}"),
    "count 2^64": ("qd-press00", 77, AT, "running", 2**64, 1, None, None, None,
                   JSONB_V1 + b"{}"),
    "year 9999": ("qd-press01", 78, datetime(9999, 12, 31, tzinfo=UTC), "running", 1, 1,
                  None, None, None, JSONB_V1 + b"{}"),
    "not bytes": ("qd-press01", 79, AT, "running", 1, 1, None, None, None, object()),
}  # fmt: skip


@pytest.mark.parametrize("kinds", [*([kind] for kind in POISON), list(POISON)], ids=str)
def test_any_error_of_one_row_isolates_that_row_only(
    kinds: list[str],
    settings: Settings,
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    schemas: Callable[[str], str],
) -> None:
    """Only psycopg's row errors were isolated: an int8 dumper's OverflowError (a seq of
    2^63, should one ever pass the edge), a partition that cannot be made, anything else
    raised for one row, stopped the sink. Rows are built directly, as they reach the writer."""
    schema = schemas("poison")
    migrate(migrator, schema, settings)
    good = [fast_row(value) for _, _, value in s.samples(2, 10)]
    batch = Batch()
    for n, row in enumerate(good):
        batch.add(TELEMETRY, row, f"good {n}")  # type: ignore[arg-type]  # any origin will do
        if n == 7:
            for kind in kinds:
                batch.add(TELEMETRY, POISON[kind], kind)  # type: ignore[arg-type]
    with psycopg.connect(settings.pg_writer_dsn, autocommit=True) as conn:
        table_writer = TableWriter(conn, schema, PartitionKeeper(schema, policies(conn, schema)))
        rejected = table_writer.write(batch)
    assert {r.origin: r.table for r in rejected} == dict.fromkeys(kinds, "telemetry")
    reasons = {r.origin: r.reason for r in rejected}
    if "seq 2^63" in kinds:
        assert "OverflowError" in reasons["seq 2^63"]
    if "year 9999" in kinds:
        assert "no partition" in reasons["year 9999"]
    assert s.count(writer, schema, "telemetry") == len(good)


def test_an_error_raised_while_reading_one_record_letters_it_and_reads_on(
    sink_settings: Settings, writer: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anything raised for one message in the Kafka loop stopped the sink. No record is
    known to do it now, so a row function that fails on one marked sample stands for the
    next bug such a record would meet."""

    def brittle(value: bytes) -> Row | None:
        if b"BRITTLE" in value:
            raise ValueError("met a value nobody planned for")
        return fast_row(value)

    monkeypatch.setitem(FAST_ROWS, Topic.TELEMETRY, (TELEMETRY, brittle))
    schema = sink_settings.pg_schema
    marked = Sample.model_validate(
        {**SAMPLE, "device_id": "qd-press00", "product": "BRITTLE"}, strict=False
    )
    records = [*s.samples(2, 10), (Topic.TELEMETRY, marked.device_id, encode(marked))]
    s.produce(sink_settings, [*records, *s.samples(2, 10, first_seq=10)])
    s.drain(sink_settings, schema)
    assert s.count(writer, schema, "telemetry") == 40
    query = sql.SQL("SELECT stage, code, topic, reason FROM {}").format(
        sql.Identifier(schema, "deadletter")
    )
    [(stage, code, topic, reason)] = writer.execute(query).fetchall()
    assert (stage, code, topic) == ("sink", "sink_error", "iiot.telemetry")
    assert "met a value nobody planned for" in reason
