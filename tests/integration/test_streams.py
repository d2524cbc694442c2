"""The stream worker against the real broker: the simulator with faults on → `iiot stream`
→ the emitted windows equal a reference computation over the same samples, also when the
worker is killed with SIGKILL mid-run and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from iiot import topics
from iiot.contract import ContractError, decode
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Reading, device_windows, oee_window, ordered, roll_up, to_ms
from iiot.results import Alarm, DeadLetter, OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Emitted, FaultRates, Simulation, SimulationOptions
from streams.app import create_app, internal_topics
from streams.ingest import FutureGuard

pytestmark = pytest.mark.integration

FAULTS = FaultRates(
    duplicate=0.02, out_of_order=0.02, late=0.01, malformed=0.01, clock_skew=0.005,
    counter_reset=0.005, gap=0.002,
)  # fmt: skip


def simulate(devices: int, duration_s: float) -> list[Emitted]:
    options = SimulationOptions(seed=11, devices=devices, duration_s=duration_s, faults=FAULTS)
    return list(Simulation(options).run())


def publish(settings: Settings, events: list[Emitted]) -> list[int]:
    """Publish in order; returns each record's partition."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    partitions = [-1] * len(events)
    for i, e in enumerate(events):

        def delivered(err, msg, i=i) -> None:
            assert err is None, err
            partitions[i] = msg.partition()

        producer.produce(
            topics.name(e.topic, settings),
            e.value,
            e.key,
            timestamp=e.timestamp_ms,
            on_delivery=delivered,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    return partitions


def start_worker(settings: Settings) -> subprocess.Popen:
    env = dict(
        os.environ,
        IIOT_TOPIC_PREFIX=settings.topic_prefix,
        IIOT_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
    )
    # Its log goes to a file: an unread pipe would fill up and stall the worker.
    with tempfile.NamedTemporaryFile(prefix="iiot-stream-", suffix=".log", delete=False) as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "stream"], env=env, stdout=log, stderr=log
        )


def reference(settings: Settings, events: list[Emitted], partitions: list[int]):
    """What the stream must give, computed apart from it with the same pure functions:
    drop invalid, future (streams.ingest.FutureGuard: partition newest + tolerance), duplicate
    and late (device newest − grace) samples in delivery order, then window each device's
    accepted samples."""
    births = {
        e.key.decode(): decode(DeviceBirth, e.value) for e in events if e.topic == Topic.REGISTRY
    }
    accepted: dict[str, list[Reading]] = defaultdict(list)
    seen, newest_device = set(), {}
    guard = FutureGuard(settings.future_tolerance_s * 1000)
    dead = 0
    for e, partition in zip(events, partitions, strict=True):
        if e.topic != Topic.TELEMETRY:
            continue
        try:
            sample = decode(Sample, e.value)
        except ContractError:
            dead += 1
            continue
        ts = to_ms(sample.ts)
        try:
            guard.check(partition, ts)
        except ContractError:
            dead += 1
            continue
        if (sample.device_id, sample.seq) in seen:
            continue
        seen.add((sample.device_id, sample.seq))
        device_top = newest_device.get(sample.device_id)
        if device_top is not None and ts < device_top - settings.grace_s * 1000:
            continue  # late: counted, not applied
        newest_device[sample.device_id] = max(device_top or ts, ts)
        accepted[sample.device_id].append(Reading.of(sample))
    windows: dict[str, OeeWindow] = {}
    per_start = defaultdict(list)
    for device_id, readings in accepted.items():
        birth = births[device_id]
        parts = device_windows(
            ordered(readings),
            window_ms=settings.oee_window_s * 1000,
            max_gap_ms=round(birth.sample_interval_s * settings.max_gap_intervals * 1000),
            ideal_cycle_s=birth.ideal_cycle_s,
        ).windows
        for start, p in parts.items():
            w = oee_window("device", device_id, start, p)
            windows[w.key] = w
            per_start[start].append(p)
    for start, parts in per_start.items():
        w = oee_window("province", "shandong", start, roll_up(parts))  # type: ignore[arg-type]
        windows[w.key] = w
    return windows, dead


def comparable(w: OeeWindow) -> dict:
    return w.model_dump(exclude={"revision", "late_samples"})


def wait_for(settings: Settings, expected: dict[str, OeeWindow], dead: int, timeout_s: float):
    """Consume results until the newest revision of every expected window matches."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.name(Topic.OEE, settings), topics.name(Topic.DEADLETTER, settings)])
    latest: dict[str, OeeWindow] = {}
    dead_letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=1.0):
                assert m.error() is None, m.error()
                if m.topic().endswith(Topic.DEADLETTER.value):
                    dead_letters.append(decode(DeadLetter, m.value()))
                    continue
                w = decode(OeeWindow, m.value())
                held = latest.get(w.key)
                if held is None or w.revision >= held.revision:
                    latest[w.key] = w
            missing = [
                k
                for k, w in expected.items()
                if k not in latest or comparable(latest[k]) != comparable(w)
            ]
            if not missing and len(dead_letters) >= dead:
                return latest, dead_letters
    finally:
        consumer.close()
    key = missing[0]
    pytest.fail(
        f"{len(missing)} of {len(expected)} windows differ or are missing, e.g. {key}: "
        f"expected {comparable(expected[key])}, got "
        f"{comparable(latest[key]) if key in latest else None}; "
        f"dead letters {len(dead_letters)} of {dead}"
    )


def read_all(settings: Settings, topic: Topic, model: type) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.name(topic, settings)])
    values, idle = [], 0
    try:
        while idle < 3:
            batch = consumer.consume(500, timeout=1.0)
            idle = 0 if batch else idle + 1
            values += [decode(model, m.value()) for m in batch if m.error() is None]
    finally:
        consumer.close()
    return values


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    worker.send_signal(sig)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def test_windows_equal_the_reference_with_faults_on(stream_settings: Settings) -> None:
    events = simulate(devices=12, duration_s=1_800)
    partitions = publish(stream_settings, events)
    expected, dead = reference(stream_settings, events, partitions)
    worker = start_worker(stream_settings)
    try:
        latest, dead_letters = wait_for(stream_settings, expected, dead, timeout_s=120)
    finally:
        stop(worker)
    assert {d.code for d in dead_letters} <= {
        "invalid_json",
        "invalid_field",
        "not_an_object",
        "future_ts",
    }
    assert all(
        d.reason and d.topic == Topic.TELEMETRY.value and d.offset is not None for d in dead_letters
    )
    lines = [w for w in latest.values() if w.level == "line"]
    assert lines and all(w.devices >= 1 for w in lines)
    alarms = read_all(stream_settings, Topic.ALARMS, Alarm)
    episodes: dict[tuple, list[str]] = defaultdict(list)
    for a in alarms:
        episodes[(a.device_id, a.kind, a.raised_at)].append(a.status)
    assert {kind for _, kind, _ in episodes} >= {"counter_reset", "offline"}
    # Raised once, then at most cleared once: never once per sample.
    assert all(edges in (["raised"], ["raised", "cleared"]) for edges in episodes.values())
    # Every topic was made before the worker started (with the broker's replication factor,
    # e.g. 3 on Kubernetes): Faust made none of its own.
    settings = stream_settings
    made_before = {name for name, _, _ in internal_topics(create_app(settings))}
    made_before |= {topics.name(spec.topic, settings) for spec in topics.specs(settings)}
    listed = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(timeout=10)
    assert {t for t in listed.topics if t.startswith(settings.topic_prefix)} == made_before


def test_sigkill_mid_run_gives_the_same_windows(stream_settings: Settings) -> None:
    events = simulate(devices=8, duration_s=1_200)
    half = len(events) // 2
    partitions = publish(stream_settings, events[:half])
    worker = start_worker(stream_settings)
    first, _ = reference(stream_settings, events[:half], partitions)
    some = dict(list(first.items())[:5])
    try:
        wait_for(stream_settings, {k: v for k, v in some.items()}, 0, timeout_s=90)
    finally:
        stop(worker, signal.SIGKILL)
    partitions += publish(stream_settings, events[half:])
    expected, dead = reference(stream_settings, events, partitions)
    worker = start_worker(stream_settings)
    try:
        wait_for(stream_settings, expected, dead, timeout_s=120)
    finally:
        stop(worker)


def test_two_workers_give_the_same_windows_as_one(stream_settings: Settings) -> None:
    events = simulate(devices=10, duration_s=900)
    partitions = publish(stream_settings, events)
    expected, dead = reference(stream_settings, events, partitions)
    workers = [start_worker(stream_settings), start_worker(stream_settings)]
    try:
        wait_for(stream_settings, expected, dead, timeout_s=120)
    finally:
        for worker in workers:
            stop(worker)
