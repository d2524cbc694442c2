"""Telemetry rows/s from Kafka into PostgreSQL, beside a bare COPY and a naive INSERT.

    .venv/bin/python -m bench.sink [--rows 300000] [--devices 200] [--naive-rows 20000]
                                   [--per-record 1]

Three ways of landing the same samples in the same `telemetry` table (each in a schema of
its own, dropped afterwards), printed side by side with their ratios:

- bare COPY: the rows read from a file and streamed by binary COPY straight into the table —
  no Kafka, no decoding, no de-duplication: the ceiling;
- sink: `iiot sink` reading them from Kafka (JSON), decoding, COPY into staging, then
  `INSERT … ON CONFLICT DO NOTHING`, offsets committed after each transaction; with
  `--per-record N` the samples go as batch records of N samples of a device each;
- naive: one INSERT per row (committed every 1,000 rows), what a sink written in an
  afternoon does.

Needs the local stack (`iiot stack up`). Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from confluent_kafka import Producer
from psycopg import sql

from bench import results
from iiot import kafka_admin, topics
from iiot.contract import encode
from iiot.kafka_security import kafka_config
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import pack
from sinks.consumer import Sink, tune_interpreter
from sinks.migrate import migrate
from sinks.partitions import maintain
from sinks.sink_status import SinkStats
from sinks.tables import ROUTES, TELEMETRY, Row

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)


def make_samples(rows: int, devices: int) -> list[Sample]:
    return [
        Sample(
            device_id=f"bench-dev{i % devices:04d}",
            ts=T0 + timedelta(seconds=i // devices),
            seq=i // devices,
            state="running",
            count_total=i // devices,
            count_good=i // devices,
            ideal_cycle_s=12.5,
            product="FRIDGE-DOOR-A",
            metrics={"power_kw": 6.8 + i % 5, "hydraulic_bar": 181.2, "temp_c": 41.0},
        )
        for i in range(rows)
    ]


def as_row(s: Sample) -> Row:
    return (s.device_id, s.seq, s.ts, s.state, s.count_total, s.count_good, s.ideal_cycle_s,
            s.product, s.reason, orjson.dumps(s.metrics).decode())  # fmt: skip


def fresh_schema(settings: Settings, name: str) -> str:
    """Made by its owner, the migrator; the bench then writes as the writer, as the sink does."""
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as owner:
        migrate(owner, name, settings)
        maintain(owner, name, now=T0, days_ahead=1)  # partitions exist, as the sink would make
    return name


def bare_copy(conn: psycopg.Connection, schema: str, samples: list[Sample], path: Path) -> float:
    """Write the rows to a binary COPY file, then time streaming that file into the table."""
    names = sql.SQL(", ").join(map(sql.Identifier, TELEMETRY.names))  # arrived_at: its DEFAULT
    with conn.cursor() as cur:  # a COPY TO STDOUT of a temp table makes a valid binary file
        cur.execute(
            sql.SQL("CREATE TEMP TABLE bench_rows (LIKE {} INCLUDING DEFAULTS)").format(
                sql.Identifier(schema, "telemetry")
            )
        )
        with cur.copy(
            sql.SQL("COPY bench_rows ({}) FROM STDIN (FORMAT BINARY)").format(names)
        ) as copy:
            copy.set_types([kind for _, kind in TELEMETRY.columns])
            for s in samples:
                *columns, metrics = as_row(s)
                copy.write_row((*columns, orjson.loads(metrics)))
        out_statement = sql.SQL("COPY bench_rows ({}) TO STDOUT (FORMAT BINARY)").format(names)
        with path.open("wb") as f, cur.copy(out_statement) as out:
            for chunk in out:
                f.write(chunk)
        cur.execute("DROP TABLE bench_rows")
    target = sql.Identifier(schema, "telemetry")
    started = time.perf_counter()
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, names)
    with (
        path.open("rb") as f,
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(statement) as copy,
    ):
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    return time.perf_counter() - started


def naive_inserts(conn: psycopg.Connection, schema: str, samples: list[Sample]) -> float:
    statement = sql.SQL(
        "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING"
    ).format(sql.Identifier(schema, "telemetry"))
    started = time.perf_counter()
    for at in range(0, len(samples), 1_000):
        with conn.transaction():
            for s in samples[at : at + 1_000]:
                conn.execute(statement, as_row(s))
    return time.perf_counter() - started


def produce(settings: Settings, samples: list[Sample], per_record: int = 1) -> None:
    """The samples one a record, or `per_record` of a device a batch record."""
    producer = Producer(
        {**kafka_config(settings), "linger.ms": 50,
         "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000}
    )  # fmt: skip
    name = topics.name(Topic.TELEMETRY, settings)
    for key, value in records(samples, per_record):
        producer.produce(name, key=key, value=value)
        producer.poll(0)
    assert producer.flush(60) == 0


def records(samples: list[Sample], per_record: int) -> list[tuple[bytes, bytes]]:
    if per_record == 1:
        return [(s.device_id.encode(), encode(s)) for s in samples]
    by_device: dict[str, list[bytes]] = {}
    for s in samples:
        by_device.setdefault(s.device_id, []).append(encode(s))
    return [(device.encode(), pack(device, values[at : at + per_record]))
            for device, values in by_device.items()
            for at in range(0, len(values), per_record)]  # fmt: skip


def run_sink(settings: Settings, schema: str, rows: int) -> tuple[float, float]:
    """Seconds from start to the last row (group join included), and the steady-state
    seconds between the end of the first checkpoint and the end of the last."""
    sink = Sink(settings, schema, sources=(Topic.TELEMETRY,), stats=SinkStats(tuple(ROUTES), None))
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()

    def done() -> bool:
        written = sink.stats.total_rows
        if written and (not marks or marks[-1][1] != written):
            marks.append((time.perf_counter(), written))
        return written >= rows

    sink.run(until=done)
    total = time.perf_counter() - started
    (t_first, n_first), (t_last, _) = marks[0], marks[-1]
    if n_first >= rows:  # one checkpoint took it all: no steady state to speak of
        return total, total
    return total, (t_last - t_first) * rows / (rows - n_first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument("--per-record", type=int, default=1, help="samples a Kafka record")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    settings = Settings(topic_prefix=f"bench-{run}.", sink_batch_rows=50_000, sink_batch_s=1.0)
    samples = make_samples(args.rows, args.devices)
    tune_interpreter()  # as `iiot sink` does; the test data is out of the collector's way
    load_before = os.getloadavg()[0]
    print(f"load before: {load_before:.2f} (1-min avg, {os.cpu_count()} cores)")
    kafka_admin.ensure_topics(settings)
    schemas = [f"bench_{run}_{kind}" for kind in ("copy", "sink", "naive")]
    conn = psycopg.connect(settings.pg_writer_dsn, autocommit=True)
    try:
        for schema in schemas:
            fresh_schema(settings, schema)
        with tempfile.TemporaryDirectory() as tmp:
            copy_s = bare_copy(conn, schemas[0], samples, Path(tmp) / "telemetry.bin")
        produce(settings, samples, args.per_record)
        load_sink = os.getloadavg()[0]
        sink_total_s, sink_s = run_sink(settings, schemas[1], args.rows)
        naive_s = naive_inserts(conn, schemas[2], samples[: args.naive_rows])
        for schema in schemas[:2]:
            (n,) = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "telemetry"))
            ).fetchone() or (0,)
            assert n == args.rows, f"{schema}: {n} rows, expected {args.rows}"
    finally:  # on a connection of its own: the one above may be what failed
        conn.close()
        with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as cleanup:
            for schema in schemas:
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                cleanup.execute(drop.format(sql.Identifier(schema)))
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)

    copy_rate = args.rows / copy_s
    sink_rate = args.rows / sink_s
    naive_rate = args.naive_rows / naive_s
    print(f"telemetry rows: {args.rows:,} from {args.devices} devices, "
          f"{args.per_record} a record; load during sink "
          f"{load_sink:.2f}, after {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'way':<34}{'rows/s':>12}{'vs bare COPY':>14}")
    print(f"{'bare COPY from a file (ceiling)':<34}{copy_rate:>12,.0f}{1:>14.0%}")
    print(f"{'iiot sink from Kafka (steady)':<34}{sink_rate:>12,.0f}{sink_rate / copy_rate:>14.0%}")
    print(f"{'iiot sink, incl. group join':<34}{args.rows / sink_total_s:>12,.0f}"
          f"{args.rows / sink_total_s / copy_rate:>14.0%}")  # fmt: skip
    print(f"{'naive INSERT per row':<34}{naive_rate:>12,.0f}{naive_rate / copy_rate:>14.0%}")
    print(f"sink / naive: {sink_rate / naive_rate:.1f}×; goal ≥ 100,000 rows/s and ≥ 50% of COPY")
    shape = f", {args.per_record} samples a record" if args.per_record > 1 else ""
    ours = {STEADY + shape: sink_rate, JOIN + shape: args.rows / sink_total_s}
    results.record(
        "bench/sink.py",
        "rows/s",
        figures=ours,
        peers={CEILING: copy_rate, NAIVE: naive_rate},
        ratios={f"{name} / {CEILING}": rate / copy_rate for name, rate in ours.items()},
        loads=[load_before, load_sink],
        note=f"{args.per_record} samples a record" if args.per_record > 1 else None,
    )


CEILING, NAIVE = "bare COPY from a file (ceiling)", "naive INSERT per row"
STEADY, JOIN = "iiot sink from Kafka (steady)", "iiot sink, incl. group join"


if __name__ == "__main__":
    main()
