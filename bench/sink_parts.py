"""Where the sink's time goes: each part of the telemetry path alone, on the same rows.

    .venv/bin/python -m bench.sink_parts [--rows 200000] [--devices 200]

Per row in µs of wall time (one part at a time, so each may use a whole core):

- Kafka consume: `consume(num_messages=10_000)` over the topic, each message's value read;
- decode, contract: `iiot.contract.decode` and the telemetry route's row (the slow path);
- decode, fast path: `sinks.telemetry_rows.fast_row` (what nearly every sample takes);
- decode, batch records: the same samples packed 100 a record (iiot/wire/sample_batch.py),
  each record unpacked and each sample made a row by `sinks.telemetry_rows.element_row`;
- COPY into the table: the writer's steady-state path (binary COPY straight into it);
- COPY into staging / INSERT … ON CONFLICT: the path of a batch whose keys may exist,
  timed apart, first into an empty table and then with every key there (a replay);
- then EXPLAIN ANALYZE of one INSERT … SELECT … ON CONFLICT batch, and the server's
  durability settings, which the ceiling in bench/sink.py shares.

Needs the local stack. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable, Sequence

import orjson
import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

from bench import results
from bench.sink import fresh_schema, make_samples, produce
from iiot import kafka_admin, topics
from iiot.contract import decode, encode
from iiot.kafka_security import kafka_config
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import pack, unpack
from sinks.partitions import PartitionKeeper, policies
from sinks.tables import ROUTES, TELEMETRY, Row
from sinks.telemetry_rows import element_row, fast_row
from sinks.writer import TableWriter

BATCH = 50_000  # rows per transaction, as the bench's sink checkpoints
PACKED = 100  # samples a batch record


def timed(rows: int, work: Callable[[], object]) -> float:
    """µs per row of `work()`."""
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) / rows * 1e6


def consume_all(settings: Settings, rows: int) -> list[bytes]:
    name = topics.name(Topic.TELEMETRY, settings)
    consumer = Consumer(
        {**kafka_config(settings), "group.id": f"parts-{uuid.uuid4()}",
         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024}
    )  # fmt: skip
    partitions = consumer.list_topics(name).topics[name].partitions
    consumer.assign([TopicPartition(name, p, 0) for p in partitions])
    values: list[bytes] = []
    while len(values) < rows:
        values += [m.value() for m in consumer.consume(num_messages=10_000, timeout=1.0)]
    consumer.close()
    return values


def in_batches(writer: TableWriter, rows: Sequence[Row], write: Callable[[list[Row]], None]):
    def run() -> None:
        for at in range(0, len(rows), BATCH):
            with writer.conn.transaction():
                write(list(rows[at : at + BATCH]))

    return run


def staged(writer: TableWriter, rows: Sequence[Row]) -> tuple[float, float]:
    """µs per row for COPY into staging and for the INSERT … ON CONFLICT, timed apart."""
    copy_s = insert_s = 0.0
    for at in range(0, len(rows), BATCH):
        batch = rows[at : at + BATCH]
        with writer.conn.transaction():
            started = time.perf_counter()
            writer._copy(TELEMETRY, "stage_telemetry", batch)
            copied = time.perf_counter()
            writer.conn.execute(writer._upserts["telemetry"])
            writer.conn.execute("TRUNCATE stage_telemetry")
            insert_s += time.perf_counter() - copied
            copy_s += copied - started
    return copy_s / len(rows) * 1e6, insert_s / len(rows) * 1e6


def writer_for(conn: psycopg.Connection, schema: str) -> TableWriter:
    return TableWriter(conn, schema, PartitionKeeper(schema, policies(conn, schema)))


def explain_upsert(writer: TableWriter, rows: Sequence[Row]) -> list[str]:
    with writer.conn.transaction(force_rollback=True):
        writer._copy(TELEMETRY, "stage_telemetry", rows[:BATCH])
        query = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, WAL) ") + writer._upserts["telemetry"]
        return [line for (line,) in writer.conn.execute(query)]


SERVER_SETTINGS = ("synchronous_commit", "fsync", "wal_level", "full_page_writes",
                   "shared_buffers", "max_wal_size")  # fmt: skip


def decode_parts(values: list[bytes]) -> tuple[list[Row], list[tuple[str, float]]]:
    route = ROUTES[Topic.TELEMETRY]

    def slow() -> list[Row]:
        return [route.rows(decode(Sample, v), None)[0][1] for v in values]  # type: ignore[arg-type]

    def fast() -> list[Row | None]:
        return [fast_row(v) for v in values]

    by_device: dict[str, list[bytes]] = {}
    for value in values:
        by_device.setdefault(orjson.loads(value)["device_id"], []).append(value)
    records = [
        pack(device, samples[at : at + PACKED])
        for device, samples in by_device.items()
        for at in range(0, len(samples), PACKED)
    ]

    def batched() -> list[Row]:
        rows = []
        for record in records:
            batch = unpack(record)
            assert batch is not None
            rows += [element_row(batch.device_id, element) for element in batch.samples]
        return rows

    rows = fast()
    assert rows == slow(), "the fast path must give the contract's rows"
    assert sorted(batched(), key=str) == sorted(rows, key=str), "a batch's rows are the same"
    parts = [("decode, contract (pydantic)", timed(len(values), slow)),
             ("decode, fast path", timed(len(values), fast)),
             (f"decode, batch records of {PACKED}", timed(len(values), batched))]  # fmt: skip
    return rows, parts  # type: ignore[return-value]


def db_parts(conn: psycopg.Connection, schemas: list[str], rows: list[Row]):  # type: ignore[no-untyped-def]
    direct, stage = (writer_for(conn, schema) for schema in schemas)

    def copy(batch: list[Row]) -> None:
        direct._copy(TELEMETRY, "telemetry", batch, direct.schema)

    parts = [("COPY into the table", timed(len(rows), in_batches(direct, rows, copy)))]
    copy_s, insert_s = staged(stage, rows)
    parts += [("COPY into staging", copy_s), ("INSERT … ON CONFLICT, new keys", insert_s)]
    copy_s, insert_s = staged(stage, rows)
    parts += [("COPY into staging, replay", copy_s), ("INSERT … ON CONFLICT, keys there", insert_s)]
    return parts, explain_upsert(stage, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=200)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    settings = Settings(topic_prefix=f"bench-{run}.")
    samples = make_samples(args.rows, args.devices)
    load_before = os.getloadavg()[0]
    print(f"load before: {load_before:.2f} (1-min avg, {os.cpu_count()} cores)")
    kafka_admin.ensure_topics(settings)
    schemas = [f"bench_{run}_{kind}" for kind in ("direct", "staged")]
    conn = psycopg.connect(settings.pg_writer_dsn, autocommit=True)
    try:
        produce(settings, samples)
        values = consume_all(settings, args.rows)  # a first read warms the broker's cache
        parts = [("Kafka consume", timed(args.rows, lambda: consume_all(settings, args.rows)))]
        rows, decoding = decode_parts(values)
        for schema in schemas:
            fresh_schema(settings, schema)
        writing, plan = db_parts(conn, schemas, rows)
        show = sql.SQL("SHOW {}")
        server = {
            n: conn.execute(show.format(sql.Identifier(n))).fetchone() for n in SERVER_SETTINGS
        }
    finally:
        conn.close()
        with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as cleanup:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
            for schema in schemas:
                cleanup.execute(drop.format(sql.Identifier(schema)))
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    print(f"telemetry rows: {args.rows:,} from {args.devices} devices; "
          f"payload {len(encode(samples[0]))} B; load after {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'part':<36}{'µs/row':>8}{'rows/s alone':>14}")
    for name, us in parts + decoding + writing:
        print(f"{name:<36}{us:>8.2f}{1e6 / us:>14,.0f}")
    print("EXPLAIN (ANALYZE, BUFFERS, WAL) of one INSERT … ON CONFLICT batch, every key there:")
    print("\n".join(f"  {line}" for line in plan))
    print("server:", ", ".join(f"{k}={v[0] if v else '?'}" for k, v in server.items()))
    figures = dict(parts + decoding + writing)
    results.record("bench/sink_parts.py", "µs/row", figures=figures, loads=[load_before])


if __name__ == "__main__":
    main()
