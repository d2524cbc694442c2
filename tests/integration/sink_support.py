"""Helpers for the sink tests: messages of every kind, producing them, running a sink."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from psycopg import sql

from iiot import kafka_admin, topics
from iiot.contract import encode
from iiot.messages import DeviceBirth, Sample
from iiot.results import Alarm, DigitizationWindow, OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.consumer import Sink
from sinks.migrate import migrate
from sinks.sink_status import SinkStats
from sinks.tables import ROUTES, TARGETS
from tests.conftest import BIRTH, OEE_WINDOW, SAMPLE

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SHIFT_CALENDAR = {"shifts": [{"id": "early", "name": "早班", "start": "08:00", "end": "20:00"}]}
Record = tuple[Topic, str, bytes]


def own_topics_and_schema(
    kafka: Settings, owner: psycopg.Connection, pg_schema: str, test_name: str
) -> Iterator[Settings]:
    """Settings with topics and a schema of one test's own, migrated by `owner` (the
    migrator's connection); removed afterwards."""
    name = test_name.removeprefix("test_")[:20]
    settings = kafka.model_copy(
        update={
            "topic_prefix": f"{kafka.topic_prefix}{name}.",
            "pg_schema": f"{pg_schema}_{name}",
            "telemetry_partitions": 3,
            "result_partitions": 2,
            "sink_batch_s": 0.2,
        }
    )
    kafka_admin.ensure_topics(settings)
    migrate(owner, settings.pg_schema, settings)
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    owner.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(settings.pg_schema)))


def births(devices: int) -> list[Record]:
    out = []
    for d in range(devices):
        birth = DeviceBirth.model_validate(
            {**BIRTH, "device_id": f"qd-press{d:02d}", "shift_calendar": SHIFT_CALENDAR}
        )
        out.append((Topic.REGISTRY, birth.device_id, encode(birth)))
    return out


def samples(devices: int, per_device: int, *, first_seq: int = 0) -> list[Record]:
    out = []
    for seq in range(first_seq, first_seq + per_device):
        for d in range(devices):
            sample = Sample.model_validate(
                {
                    **SAMPLE,
                    "device_id": f"qd-press{d:02d}",
                    "seq": seq,
                    "ts": T0 + timedelta(seconds=5 * seq),
                    "count_total": seq,
                    "count_good": seq,
                    "metrics": {"power_kw": float(seq % 7), "hydraulic_bar": 180.0 + d},
                },
                strict=False,
            )
            out.append((Topic.TELEMETRY, sample.device_id, encode(sample)))
    return out


def oee_windows() -> list[Record]:
    """Two windows, the first corrected once (revision 1 replaces revision 0)."""
    out = []
    for minute, revision, late in ((0, 0, 0), (0, 1, 2), (1, 0, 0)):
        start = T0 + timedelta(minutes=minute)
        window = OeeWindow.model_validate(
            {**OEE_WINDOW, "window_start": start, "window_end": start + timedelta(minutes=1),
             "revision": revision, "late_samples": late},
            strict=False,
        )  # fmt: skip
        out.append((Topic.OEE, window.key, encode(window)))
    return out


def digitization() -> list[Record]:
    values: dict[str, Any] = {
        "enterprise_id": "qd-haier", "window_start": T0, "window_end": T0 + timedelta(hours=1),
        "revision": 0, "devices_registered": 4, "devices_reporting": 3, "samples_received": 2000,
        "samples_expected": 2880.0, "key_process_devices": 2, "key_process_nc_reporting": 1,
        "devices_with_oee": 3, "cloud": True, "connectivity": 0.75, "completeness": 0.69,
        "key_process_nc": 0.5, "oee_coverage": 0.75, "index": 66.0,
    }  # fmt: skip
    window = DigitizationWindow.model_validate(values, strict=False)
    return [(Topic.DIGITIZATION, window.key, encode(window))]


def alarms() -> list[Record]:
    raised = Alarm(
        device_id="qd-press00", kind="down_too_long", status="raised", ts=T0, raised_at=T0,
        value=600.0, threshold=300.0, message="down for 10 min",
    )  # fmt: skip
    cleared = raised.model_copy(update={"status": "cleared", "ts": T0 + timedelta(minutes=15)})
    return [(Topic.ALARMS, a.device_id, encode(a)) for a in (raised, cleared)]


def produce(settings: Settings, records: list[Record]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    for topic, key, value in records:
        producer.produce(topics.name(topic, settings), key=key.encode(), value=value)
        producer.poll(0)
    assert producer.flush(30) == 0, "Kafka did not take every message"


def drain(settings: Settings, schema: str, timeout_s: float = 60.0) -> Sink:
    """Run a sink until it has read every topic to the end and written it all."""
    sink = Sink(settings, schema, stats=SinkStats(tuple(ROUTES), out=None))
    deadline = time.monotonic() + timeout_s
    checked = 0.0

    def done() -> bool:
        nonlocal checked
        if time.monotonic() > deadline:
            raise AssertionError(f"the sink did not catch up within {timeout_s:.0f} s")
        if time.monotonic() - checked < 0.3:
            return False
        checked = time.monotonic()
        return sink.caught_up()

    sink.run(until=done)
    return sink


def snapshot(conn: psycopg.Connection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two equal snapshots are identical tables."""
    tables = {}
    for target in TARGETS:
        query = sql.SQL("SELECT * FROM {} ORDER BY 1, 2, 3").format(
            sql.Identifier(schema, target.table)
        )
        tables[target.table] = conn.execute(query).fetchall()
    return tables


def count(conn: psycopg.Connection, schema: str, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
    row = conn.execute(query).fetchone()
    return row[0] if row else 0


def fresh_schemas(conn: psycopg.Connection, base: str) -> Iterator[Any]:
    """Hands out new schema names under `base` and drops them all at the end."""
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"{base}_{suffix}"
        made.append(name)
        return name

    yield make
    for name in made:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def insert_examples(conn: psycopg.Connection) -> None:
    """A device, two samples and two OEE windows, in the schema on the search path."""
    conn.execute(
        "INSERT INTO enterprise VALUES ('qd-haier', 'Haier', 'qingdao', 'appliances', true, now())"
    )
    conn.execute(
        "INSERT INTO device VALUES ('qd-press01', 'qd-haier', 'p1', 'l1', 'press', true, true, "
        "5, 12.5, now())"
    )
    for seq, power in ((1, 4.0), (2, 6.0)):
        conn.execute(
            "INSERT INTO telemetry VALUES ('qd-press01', %s, %s, 'running', 1, 1, null, null, %s)",
            (seq, T0 + timedelta(minutes=seq), f'{{"power_kw": {power}}}'),
        )
    # Two windows of one device: OEE of the hour comes from added parts (16/45 and 0/60).
    for minute, run_s, ideal_run_s, total, good in ((0, 30, 24, 3, 2), (1, 60, 0, 0, 0)):
        conn.execute(
            "INSERT INTO oee VALUES ('device', 'qd-press01', %s, %s, 0, 1, 12, 0, %s, 0, 0, "
            "%s, %s, 0, %s, %s, %s, %s, null, null, null, null, false)",
            (T0 + timedelta(minutes=minute),
             T0 + timedelta(minutes=minute + 1), run_s,
             60 - run_s - (15 if minute == 0 else 0), 15 if minute == 0 else 0,
             45 if minute == 0 else 60, ideal_run_s, total, good),
        )  # fmt: skip


def check_rollups(conn: psycopg.Connection) -> None:
    """The roll-ups of `insert_examples`: sums, and OEE recomputed from them."""
    for grain in ("hourly", "daily"):
        mean = conn.execute(f"SELECT samples, value_sum, value_mean FROM v_metric_{grain}")
        assert mean.fetchall() == [(2, 10.0, 5.0)]
        parts = conn.execute(f"SELECT planned_s, oee FROM v_oee_{grain}").fetchone()
        assert parts is not None and parts[0] == 105.0
        assert parts[1] == pytest.approx(24 * (2 / 3) / 105)  # not the mean of 16/45 and 0
