"""Dead letters through the real sink and broker: bounded in size, one row per bad record."""

from __future__ import annotations

import hashlib

import orjson
import psycopg
import pytest
from confluent_kafka import Message, Producer
from psycopg import sql

from iiot import topics
from iiot.contract import ContractError, dead_letter, encode
from iiot.settings import Settings
from iiot.topics import Topic
from tests.integration import sink_support as s

pytestmark = pytest.mark.integration


def _letters(conn: psycopg.Connection, schema: str, *more: str) -> list[tuple[object, ...]]:
    columns = ["stage", "code", "topic", "partition", "offset", *more]
    query = sql.SQL('SELECT {} FROM {} ORDER BY topic, partition, "offset", stage').format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, "deadletter")
    )
    return conn.execute(query).fetchall()


def test_an_oversize_record_is_dead_lettered_small_and_findable(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """A 200 KB value of control characters made a 1.2 MB letter, over the producer's
    request size: the sink crashed sending it, on every restart."""
    schema = sink_settings.pg_schema
    huge = b"\x01" * 200_000  # UTF-8, each byte 6 once JSON-escaped
    s.produce(sink_settings, [*s.alarms()[:1], (Topic.ALARMS, "qd-press00", huge)])
    s.drain(sink_settings, schema)
    assert s.count(writer, schema, "alarm") == 1
    [(stage, code, topic, _, _, size, digest, kept)] = _letters(
        writer, schema, "payload_bytes", "payload_sha256", "payload"
    )
    assert (stage, code, topic) == ("sink", "too_large", "iiot.alarms")
    assert (size, digest) == (200_000, hashlib.sha256(huge).hexdigest())
    assert kept == "\x01" * 4_096  # its first 4 KiB


def test_a_record_with_a_huge_key_is_dead_lettered_under_a_short_one(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """The letter went under the original key: a record Kafka took (980 KB key, 5 KB value)
    made a letter record over the producer's 1 MB, and the sink stopped."""
    schema = sink_settings.pg_schema
    s.produce(sink_settings, [(Topic.ALARMS, "k" * 980_000, b"\x01" * 5_000)])
    s.drain(sink_settings, schema)
    [(stage, code, topic, *_)] = _letters(writer, schema)
    assert (stage, code, topic) == ("sink", "invalid_json", "iiot.alarms")


def _produce_reporting(settings: Settings, records: list[s.Record]) -> list[Message]:
    """Produce, and return each record as Kafka took it (with its partition and offset)."""
    delivered: list[Message] = []
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})

    def taken(err: object, msg: Message) -> None:
        assert err is None, err
        delivered.append(msg)

    for topic, key, value in records:
        name = topics.name(topic, settings)
        producer.produce(name, key=key.encode(), value=value, on_delivery=taken)
    assert producer.flush(30) == 0
    return delivered


def test_one_bad_record_is_one_row_whatever_the_stages_and_restarts(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """Each bad sample was lettered by the stream and by the sink, and again at each
    replay, each letter keyed by its own offset: 3 bad records made 6 rows, then more."""
    schema = sink_settings.pg_schema
    bad = [
        (Topic.TELEMETRY, "qd-press00", b'{"v": 1, "device_id": "qd-press00"}'),
        (Topic.TELEMETRY, "qd-press01", b"{not json"),
        (Topic.TELEMETRY, "qd-press00", b"\xff\xfe"),
    ]
    s.produce(sink_settings, [*s.births(2), *s.samples(2, 10)])
    taken = _produce_reporting(sink_settings, bad)
    s.produce(sink_settings, s.samples(2, 10, first_seq=10))
    # The stream worker's letters, each sent twice, as a worker restarted before its commit
    # sends them again; and one producer refusal at the edge (no Kafka origin), sent once.
    letters = []
    for msg in taken:
        error = ContractError("invalid_json", "message: Invalid JSON")
        letter = dead_letter(
            "streams.ingest", error, msg.value(), topic=Topic.TELEMETRY.value,
            partition=msg.partition(), offset=msg.offset(), key=msg.key(),
        )  # fmt: skip
        letters += [(Topic.DEADLETTER, msg.key().decode(), encode(letter))] * 2
    edge = dead_letter("producer", ContractError("invalid_field", "seq: too big"), b"{}",
                       topic=Topic.TELEMETRY.value, key=b"qd-press01")  # fmt: skip
    s.produce(sink_settings, [*letters, (Topic.DEADLETTER, "qd-press01", encode(edge))])

    first = s.drain(sink_settings, schema)
    again = s.drain(sink_settings.model_copy(update={"sink_group": "iiot-sink-again"}), schema)
    assert s.count(writer, schema, "telemetry") == 40
    rows = _letters(writer, schema)
    assert [(stage, topic) for stage, _, topic, *_ in rows] == [
        *[("streams.ingest", "iiot.telemetry")] * 3, ("producer", "iiot.telemetry"),
    ]  # fmt: skip
    origins = {(Topic.TELEMETRY.value, m.partition(), m.offset()) for m in taken}
    assert {(topic, part, offset) for _, _, topic, part, offset, *_ in rows[:3]} == origins
    assert first.stats.undecodable == again.stats.undecodable == 3  # counted, not lettered
    assert first.stats.dead_lettered == again.stats.dead_lettered == 0


def test_a_sample_keyed_by_another_device_is_not_landed(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    """The stream refuses it (key_mismatch) and the sink landed it all the same: 197 such
    rows in the fault matrix's bad-input campaign. Both paths: fast, and pydantic's."""
    schema = sink_settings.pg_schema
    [(_, _, plain)] = s.samples(1, 1, first_seq=500)
    slow = orjson.loads(plain) | {"metrics": {"power_kw": 1}}  # an int: the slow path
    misfiled = [(Topic.TELEMETRY, "qd-press01", plain),
                (Topic.TELEMETRY, "qd-press01", orjson.dumps(slow))]  # fmt: skip
    s.produce(sink_settings, [*s.samples(2, 10), *misfiled])
    sink = s.drain(sink_settings, schema)
    assert s.count(writer, schema, "telemetry") == 20
    assert s.count(writer, schema, "deadletter") == 0  # the stream's to send
    assert sink.stats.undecodable == 2
