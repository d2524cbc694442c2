"""`iiot sink` on batch records (docs/contract.md, "SampleBatch"): each sample of a record
lands as the row it would be alone, with the real broker and the real PostgreSQL."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from psycopg import sql

from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import pack
from sinks import consumer
from sinks.tables import Row
from sinks.telemetry_rows import element_row
from tests.integration import sink_support as s

pytestmark = pytest.mark.integration

# A telemetry row but its device: the same sample of two devices gives the same values.
VALUES = "seq, ts, state, count_total, count_good, ideal_cycle_s, product, metrics"


def rows_of(conn: psycopg.Connection, schema: str, device_id: str) -> list[tuple[object, ...]]:
    query = sql.SQL("SELECT {} FROM {} WHERE device_id = %s ORDER BY seq").format(
        sql.SQL(VALUES), sql.Identifier(schema, "telemetry")
    )
    return conn.execute(query, (device_id,)).fetchall()


def values(records: list[s.Record]) -> list[bytes]:
    return [value for _, _, value in records]


def as_batches(device_id: str, samples: list[bytes], size: int) -> list[s.Record]:
    return [(Topic.TELEMETRY, device_id, pack(device_id, samples[at : at + size]))
            for at in range(0, len(samples), size)]  # fmt: skip


def of_device(records: list[s.Record], device_id: str) -> list[bytes]:
    return [value for _, key, value in records if key == device_id]


def test_a_batch_of_n_samples_lands_the_n_rows_they_make_alone(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """Device 01's samples come in batch records, device 00's the same samples one a record;
    a few take the contract's slow path (an integer metric). With fewer rows a checkpoint
    than a record holds, the sink takes one record a poll."""
    schema = sink_settings.pg_schema
    batched = of_device(s.samples(2, 60), "qd-press01")
    for n in (7, 31):  # spelled for the slow path
        batched[n] = orjson.dumps(orjson.loads(batched[n]) | {"metrics": {"power_kw": 3}})
    alone = [value.replace(b'"qd-press01"', b'"qd-press00"', 1) for value in batched]
    singles = [(Topic.TELEMETRY, "qd-press00", value) for value in alone]
    s.produce(sink_settings, [*singles, *as_batches("qd-press01", batched, 25)])
    sink = s.drain(sink_settings.model_copy(update={"sink_batch_rows": 20}), schema)
    landed = rows_of(writer, schema, "qd-press01")
    assert len(landed) == 60 and landed == rows_of(writer, schema, "qd-press00")
    assert sink.stats.undecodable == 0 and s.count(writer, schema, "deadletter") == 0


def test_a_bad_sample_is_skipped_and_its_neighbours_land(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    samples = of_device(s.samples(1, 9), "qd-press00")
    bad = orjson.loads(samples[4]) | {"count_good": 10**6}  # more good parts than parts
    samples[4] = orjson.dumps(bad)
    s.produce(sink_settings, as_batches("qd-press00", samples, 9))
    sink = s.drain(sink_settings, schema)
    assert [seq for seq, *_ in rows_of(writer, schema, "qd-press00")] == [0, 1, 2, 3, 5, 6, 7, 8]
    assert sink.stats.undecodable == 1  # counted: its letter is the stream worker's
    assert sink.records_per_poll == sink_settings.sink_batch_rows // 8  # a checkpoint's worth
    assert s.count(writer, schema, "deadletter") == 0


def test_a_replayed_batch_lands_once_and_a_bad_envelope_or_key_not_at_all(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    [record] = as_batches("qd-press00", of_device(s.samples(1, 12), "qd-press00"), 12)
    misfiled = (Topic.TELEMETRY, "qd-press01", record[2])  # keyed by another device
    broken = (Topic.TELEMETRY, "qd-press00", record[2].replace(b'"v":1', b'"v":2', 1))
    s.produce(sink_settings, [record, misfiled, broken, record])
    sink = s.drain(sink_settings, schema)
    assert s.count(writer, schema, "telemetry") == 12
    assert sink.stats.undecodable == 2  # one each: the records are refused whole
    again = sink_settings.model_copy(update={"sink_group": "iiot-sink-replay"})
    s.drain(again, schema)  # the topic read again from its start, by another group
    assert s.count(writer, schema, "telemetry") == 12


def test_a_samples_own_sink_error_names_it_in_its_letter(
    sink_settings: Settings, writer: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sample is known to make the sink fail: one that does stands for the next bug."""

    def brittle(device_id: str, element: object) -> Row:
        if isinstance(element, dict) and element.get("product") == "BRITTLE":
            raise ValueError("met a sample nobody planned for")
        return element_row(device_id, element)

    monkeypatch.setattr(consumer, "element_row", brittle)
    schema = sink_settings.pg_schema
    samples = of_device(s.samples(1, 6), "qd-press00")
    samples[3] = orjson.dumps(orjson.loads(samples[3]) | {"product": "BRITTLE"})
    s.produce(sink_settings, as_batches("qd-press00", samples, 6))
    s.drain(sink_settings, schema)
    assert [seq for seq, *_ in rows_of(writer, schema, "qd-press00")] == [0, 1, 2, 4, 5]
    query = sql.SQL("SELECT stage, code, origin_offset, sample_index, payload FROM {}").format(
        sql.Identifier(schema, "deadletter")
    )
    [(stage, code, offset, index, payload)] = writer.execute(query).fetchall()
    assert (stage, code, offset, index) == ("sink", "sink_error", 0, 3)
    assert orjson.loads(payload) == orjson.loads(samples[3])  # the sample as a Sample


def test_a_sample_the_database_refuses_is_lettered_with_its_index(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """A NUL in `product` passes the contract and PostgreSQL's text refuses it."""
    schema = sink_settings.pg_schema
    samples = of_device(s.samples(1, 5), "qd-press00")
    samples[2] = orjson.dumps(orjson.loads(samples[2]) | {"product": "a\x00b"})
    s.produce(sink_settings, as_batches("qd-press00", samples, 5))
    s.drain(sink_settings, schema)
    assert [seq for seq, *_ in rows_of(writer, schema, "qd-press00")] == [0, 1, 3, 4]
    query = sql.SQL("SELECT stage, code, sample_index, payload FROM {}").format(
        sql.Identifier(schema, "deadletter")
    )
    [(stage, code, index, payload)] = writer.execute(query).fetchall()
    assert (stage, code, index) == ("sink", "db_rejected", 2)
    assert orjson.loads(payload) == orjson.loads(samples[2])


def test_a_poll_of_many_batch_records_is_taken_a_checkpoint_at_a_time(
    sink_settings: Settings, writer: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One poll brings records of far more rows than a checkpoint: the rows held go to the
    flusher a checkpoint at a time, and once it has no room the rest of the poll waits as it
    came (bytes, not rows) for the next polls, partitions paused: nothing lost or reordered."""
    cuts: list[bool] = []
    hand_over = consumer.Sink._hand_over

    def counted(self: consumer.Sink, rest: list[object]) -> bool:
        cuts.append(handed := hand_over(self, rest))  # type: ignore[arg-type]
        return handed

    monkeypatch.setattr(consumer.Sink, "_hand_over", counted)
    schema = sink_settings.pg_schema
    samples = of_device(s.samples(1, 400), "qd-press00")
    s.produce(sink_settings, as_batches("qd-press00", samples, 10))
    s.drain(sink_settings.model_copy(update={"sink_batch_rows": 10}), schema)
    assert [seq for seq, *_ in rows_of(writer, schema, "qd-press00")] == list(range(400))
    assert False in cuts  # the the flusher had no room at least once: the poll was cut
