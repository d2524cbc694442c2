"""PostgreSQL restarted under a running sink: nothing lost, nothing doubled.

The database is a private one (its own port and data dir): stopping the shared one would
break every other test running beside this one. Kafka is the shared broker, with topics of
this test's own.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from iiot import kafka_admin
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.consumer import Sink
from sinks.migrate import migrate
from sinks.sink_status import SinkStats, group_lag
from sinks.tables import ROUTES
from tests.integration import sink_support as s
from tests.integration.private_stack import PrivateStack

pytestmark = pytest.mark.integration

DEVICES, PER_DEVICE = 5, 400  # 2,000 samples before the outage, 2,000 during it


def _telemetry_count(settings: Settings) -> int:
    try:
        with psycopg.connect(settings.pg_writer_dsn, connect_timeout=2) as conn:
            return s.count(conn, settings.pg_schema, "telemetry")
    except psycopg.OperationalError:
        return -1


def _wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_postgres_restart_mid_stream(kafka: Settings, private_stack: PrivateStack) -> None:
    private_stack.up("postgres")
    settings = private_stack.settings(
        kafka_bootstrap=kafka.kafka_bootstrap,
        topic_prefix=f"{kafka.topic_prefix}outage.",
        pg_schema="outage",
        telemetry_partitions=3,
        result_partitions=2,
        sink_batch_s=0.2,
        sink_batch_rows=300,
    )
    kafka_admin.ensure_topics(settings)
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
        migrate(conn, settings.pg_schema, settings)
    s.produce(settings, s.births(DEVICES) + s.samples(DEVICES, PER_DEVICE))

    stop = threading.Event()
    sink = Sink(settings, stats=SinkStats(tuple(ROUTES), out=None))
    runner = threading.Thread(target=sink.run, kwargs={"until": stop.is_set}, daemon=True)
    runner.start()
    try:
        _wait_for(lambda: _telemetry_count(settings) > 0, 30, "the first rows")
        private_stack.down("postgres")
        # Mid-stream: new samples, and some old ones resent, while the database is away.
        s.produce(settings, s.samples(DEVICES, PER_DEVICE, first_seq=PER_DEVICE))
        s.produce(settings, s.samples(DEVICES, 50, first_seq=100))
        _wait_for(lambda: sink.stats.db_retries > 0, 30, "the sink to notice the outage")
        private_stack.up("postgres")
        total = DEVICES * PER_DEVICE * 2
        _wait_for(lambda: _telemetry_count(settings) >= total, 60, f"{total} rows")
        _wait_for(
            lambda: all(t.lag == 0 for t in group_lag(settings, (Topic.TELEMETRY,))),
            30,
            "the offsets to be committed",
        )
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    with psycopg.connect(settings.pg_writer_dsn) as conn:
        rows, keys, newest = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)), max(seq) FROM outage.telemetry"
        ).fetchone() or (0, 0, 0)
    assert (rows, keys, newest) == (total, total, 2 * PER_DEVICE - 1)
