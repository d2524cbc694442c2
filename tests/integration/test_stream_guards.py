"""The stream worker's guards against the real broker: a partition that comes back after its
event time moved on, samples of devices that never announce themselves, dead letters of
records keyed wrong, and a result the broker refuses (nothing committed past it)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from iiot import topics
from iiot.contract import decode
from iiot.results import DeadLetter, OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.types import format_ts
from simulators import FaultRates, Simulation, SimulationOptions
from streams.held import HELD_FOR_MS
from tests.conftest import BIRTH, SAMPLE
from tests.integration.test_streams import publish, reference, stop, wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def start(settings: Settings) -> tuple[subprocess.Popen, Path]:
    """`iiot stream`, its log in a file (an unread pipe would stall it)."""
    env = dict(
        os.environ,
        IIOT_TOPIC_PREFIX=settings.topic_prefix,
        IIOT_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
    )
    with tempfile.NamedTemporaryFile(prefix="iiot-stream-", suffix=".log", delete=False) as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "stream"], env=env, stdout=log, stderr=log
        )
    return worker, Path(log.name)


def produce(settings: Settings, records: list[tuple[Topic, bytes, bytes]]) -> list[tuple[int, int]]:
    """Publish in order; (partition, offset) of each record."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    where: list[tuple[int, int]] = [(-1, -1)] * len(records)
    for i, (topic, key, value) in enumerate(records):

        def delivered(err, msg, i=i) -> None:
            assert err is None, err
            where[i] = msg.partition(), msg.offset()

        producer.produce(topics.name(topic, settings), value, key, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    return where


def dead_letters(settings: Settings, count: int, timeout_s: float) -> list[DeadLetter]:
    """Dead letters until `count` came, and 3 s more to catch any extra ones."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.name(Topic.DEADLETTER, settings)])
    letters: list[DeadLetter] = []
    deadline, extra = time.monotonic() + timeout_s, None
    try:
        while time.monotonic() < (extra or deadline):
            for m in consumer.consume(500, timeout=1.0):
                assert m.error() is None, m.error()
                letters.append(decode(DeadLetter, m.value()))
            if extra is None and len(letters) >= count:
                extra = time.monotonic() + 3
    finally:
        consumer.close()
    return letters


def sample(device_id: str, seq: int, at: timedelta, metrics: int = 2) -> bytes:
    value = copy.deepcopy(SAMPLE) | {"device_id": device_id, "seq": seq}
    value["ts"] = format_ts(T0 + at)
    value["count_total"] = value["count_good"] = 1_000 + seq
    value["metrics"] = {f"sensor_{j:02d}_bar": 100 + j + seq / 7 for j in range(metrics)}
    return orjson.dumps(value)


def birth(device_id: str) -> bytes:
    return orjson.dumps(copy.deepcopy(BIRTH) | {"device_id": device_id})


def members(settings: Settings) -> int:
    """Members of the worker group that hold telemetry partitions."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    group = f"{settings.topic_prefix}iiot-streams"
    [described] = admin.describe_consumer_groups([group]).values()
    telemetry = topics.name(Topic.TELEMETRY, settings)
    return sum(
        any(tp.topic == telemetry for tp in m.assignment.topic_partitions)
        for m in described.result(10).members
    )


def wait_members(settings: Settings, count: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if members(settings) == count:
            return
        time.sleep(1)
    pytest.fail(f"the worker group never had {count} members holding telemetry")


def devices_of(windows: dict[str, OeeWindow]) -> dict[str, OeeWindow]:
    # The device windows show what a partition's worker accepted; roll-ups are another agent.
    return {key: w for key, w in windows.items() if w.level == "device"}


def test_a_partition_back_after_its_time_moved_on_refuses_nothing(
    stream_settings: Settings,
) -> None:
    # Worker A holds every partition for 3 min of event time, B takes some of them for
    # the next 15 min, then stops: they come back to A, 15 min on from what A saw. The
    # first sample A reads then is 1 h ahead: refused against what B wrote to the changelog.
    # Every device reporting: a device alone in its partition, back from a reporting gap
    # beyond the future tolerance, would look like a clock jump (docs/simulator.md).
    options = SimulationOptions(
        seed=5, devices=8, duration_s=1_500, faults=FaultRates(), every_device_reports=True
    )
    events = list(Simulation(options).run())
    at = [e.timestamp_ms for e in events]
    start_ms = min(at)
    first = [e for e, t in zip(events, at, strict=True) if t < start_ms + 180_000]
    second = [
        e for e, t in zip(events, at, strict=True) if start_ms + 180_000 <= t < start_ms + 1_080_000
    ]
    third = events[len(first) + len(second) :]
    a, _ = start(stream_settings)
    b = None
    try:
        partitions = publish(stream_settings, first)
        expected, _ = reference(stream_settings, first, partitions)
        wait_for(stream_settings, dict(list(expected.items())[:5]), 0, timeout_s=90)
        b, _ = start(stream_settings)
        wait_members(stream_settings, 2)
        partitions += publish(stream_settings, second)
        expected, _ = reference(stream_settings, first + second, partitions)
        wait_for(stream_settings, devices_of(expected), 0, timeout_s=120)
        stop(b)
        wait_members(stream_settings, 1)
        last = [e for e in second if e.topic == Topic.TELEMETRY][-1]
        skewed = orjson.loads(last.value)
        skewed["seq"] += 1_000_000
        skewed["ts"] = format_ts(datetime.fromisoformat(skewed["ts"]) + timedelta(hours=1))
        [skewed_at] = produce(stream_settings, [(Topic.TELEMETRY, last.key, orjson.dumps(skewed))])
        partitions += publish(stream_settings, third)
        expected, dead = reference(stream_settings, events, partitions)
        assert dead == 0
        _, letters = wait_for(stream_settings, devices_of(expected), 1, timeout_s=120)
        # A replay after a rebalance may send a dead letter again (issue 12, bug 4).
        assert {(d.code, d.partition, d.offset) for d in letters} == {("future_ts", *skewed_at)}
    finally:
        for worker in (a, b):
            if worker is not None and worker.poll() is None:
                stop(worker)


def test_unknown_devices_are_held_bounded_and_expire_as_dead_letters(
    stream_settings: Settings,
) -> None:
    # 500 samples of 64 metrics of a device without a birth, 5 s apart (41 min 35 s): held as
    # readings (as the raw samples, 1.6 MB in one changelog value: over Kafka's 1 MB), the
    # ones 30 min behind the partition's time dead-lettered, each once, with its offset.
    ghost = "zb-ghost-p1-l1-press01"
    records = [
        (Topic.TELEMETRY, ghost.encode(), sample(ghost, i, timedelta(seconds=5 * i), 64))
        for i in range(500)
    ]
    records.append((Topic.TELEMETRY, b"zb-someone-else", sample(ghost, 500, timedelta(0))))
    where = produce(stream_settings, records)
    last_ms = 5_000 * 499
    expired = {where[i] for i in range(500) if 5_000 * i < last_ms - HELD_FOR_MS}
    assert len(expired) == 139
    worker, log = start(stream_settings)
    try:
        letters = dead_letters(stream_settings, len(expired) + 1, timeout_s=90)
        assert worker.poll() is None, log.read_text()[-3_000:]
    finally:
        stop(worker)
    unknown = [d for d in letters if d.code == "unknown_device"]
    assert sorted((d.partition, d.offset) for d in unknown) == sorted(expired)
    assert all(d.key == ghost and d.topic == Topic.TELEMETRY.value for d in unknown)
    assert "not the original record" in unknown[0].reason
    [mismatch] = [d for d in letters if d.code == "key_mismatch"]
    assert (mismatch.partition, mismatch.offset) == where[-1]
    assert mismatch.key == "zb-someone-else"
    assert len(letters) == len(expired) + 1


def test_a_result_the_broker_refuses_stops_the_worker_before_any_commit(
    stream_settings: Settings,
) -> None:
    # The dead-letter topic takes no record over 200 B: the batch holding the malformed
    # record cannot be written, so none of its records may be committed.
    admin = AdminClient({"bootstrap.servers": stream_settings.kafka_bootstrap})
    name = topics.name(Topic.DEADLETTER, stream_settings)
    limit = ConfigEntry("max.message.bytes", "200", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("TOPIC", name, incremental_configs=[limit])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(10)
    device = SAMPLE["device_id"]
    records = [(Topic.REGISTRY, device.encode(), birth(device))]
    records += [(Topic.TELEMETRY, device.encode(), sample(device, i, timedelta(seconds=5 * i)))
                for i in range(20)]  # fmt: skip
    records.append((Topic.TELEMETRY, device.encode(), b'{"v": 1, "device_id": "no"'))
    records += [(Topic.TELEMETRY, device.encode(), sample(device, i, timedelta(seconds=5 * i)))
                for i in range(20, 40)]  # fmt: skip
    where = produce(stream_settings, records)
    partition, bad_offset = where[21]
    worker, log = start(stream_settings)
    try:
        worker.wait(90)
    except subprocess.TimeoutExpired:
        stop(worker)
        pytest.fail("the worker kept running past a result the broker refused")
    text = log.read_text()
    assert worker.returncode != 0
    assert "records not written or not delivered" in text, text[-3_000:]
    assert "stopping the worker; it resumes from its last commit" in text
    group = f"{stream_settings.topic_prefix}iiot-streams"
    consumer = Consumer({"bootstrap.servers": stream_settings.kafka_bootstrap, "group.id": group})
    try:
        telemetry = topics.name(Topic.TELEMETRY, stream_settings)
        [committed] = consumer.committed([TopicPartition(telemetry, partition)], timeout=10)
    finally:
        consumer.close()
    assert committed.offset <= bad_offset  # negative: nothing committed
