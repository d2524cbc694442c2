"""Batch records from the Publisher on the shared broker: what it packs is, unpacked, exactly
the samples it was given, in order per device; a real-time device keeps one-sample records;
a spool drain sends batch records; a batch Kafka refuses is dead-lettered sample by sample."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Message

from iiot import kafka_admin, topics
from iiot.contract import decode, encode
from iiot.messages import Sample
from iiot.results import DeadLetter
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import is_batch
from producers.packer import samples_in
from producers.publisher import Publisher, event_time_ms
from producers.spool import Record, Spool
from simulators import Simulation, SimulationOptions
from tests.integration.sample_maker import sample
from tests.integration.telemetry_reader import (
    assert_once_in_order,
    ids_in_arrival_order,
    one_sample_records,
    read_topic,
)
from tests.integration.test_producer_simulate import DEVICES, REPO, simulate_command

pytestmark = pytest.mark.integration


@pytest.fixture
def own_prefix(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test's own; deleted afterwards."""
    settings = kafka.model_copy(update={"topic_prefix": prefix_in(kafka)})
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)


# The event-time span bound has its test in tests/unit/producers/test_packer.py; here the
# other bounds fill the records (the simulator's devices sample every 2–10 s).
WIDE_SPAN_S = 3_600


def prefix_in(kafka: Settings) -> str:
    return f"{kafka.topic_prefix}packing-{uuid.uuid4().hex[:6]}."


def telemetry(settings: Settings, samples: int) -> list[Message]:
    return read_topic(settings, topics.name(Topic.TELEMETRY, settings), samples)


def simulate(settings: Settings, spool: Path, *options: str, batch_ms: int = 200) -> int:
    """`iiot simulate --json` with `options`: the samples it handed over."""
    command, env = simulate_command(settings, spool)
    command += ["--seed", "7", *options]
    env["IIOT_PRODUCER_BATCH_MS"] = str(batch_ms)
    env["IIOT_PRODUCER_BATCH_SPAN_S"] = str(WIDE_SPAN_S)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["delivered"] == summary["handed"] == summary["accepted"]
    return int(summary["handed"]) - DEVICES  # the births went to the registry


def by_device(messages: list[Message]) -> dict[bytes | None, list[bytes | None]]:
    """Each device's samples (a batch record's each alone), in the order they arrived."""
    samples: defaultdict[bytes | None, list[bytes | None]] = defaultdict(list)
    for record in one_sample_records(messages):
        samples[record.key].append(record.value)
    return samples


def test_simulate_at_full_speed_packs_the_same_samples_as_unpacked(
    kafka: Settings, tmp_path: Path
) -> None:
    """`--speed max`: batch records, whose samples — injected faults included, which go
    alone — are those of a run with packing off, device by device in the same order."""
    faults = ["--fault", "malformed=0.01", "--fault", "duplicate=0.01"]
    runs = {}
    for batch_ms in (200, 0):
        settings = kafka.model_copy(update={"topic_prefix": prefix_in(kafka)})
        try:
            options = ["--speed", "max", "--duration", "600", *faults]
            handed = simulate(
                settings, tmp_path / f"{batch_ms}.sqlite", *options, batch_ms=batch_ms
            )
            runs[batch_ms] = handed, telemetry(settings, handed)
        finally:
            kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    (packed_handed, packed), (plain_handed, plain) = runs[200], runs[0]
    assert packed_handed == plain_handed
    assert len(plain) == plain_handed and not any(is_batch(m.value()) for m in plain)
    sizes = [samples_in(m.value()) for m in packed]
    assert len(packed) < plain_handed / 10, "--speed max: most samples in batch records"
    assert sum(sizes) == packed_handed and max(sizes) > 50
    assert by_device(packed) == by_device(plain)


def test_a_real_time_device_keeps_one_sample_records(own_prefix: Settings, tmp_path: Path) -> None:
    """Devices sampling every 2–10 s at twice real time, so at most 1 Hz on the wall clock
    (`iiot simulate --speed 2`): every record carries one sample."""
    handed = simulate(own_prefix, tmp_path / "spool.sqlite", "--speed", "2", "--duration", "12")
    messages = telemetry(own_prefix, handed)
    # Two samples or more from each device that reports (unconnected ones send none).
    province = Simulation(SimulationOptions(devices=DEVICES, seed=7)).devices
    assert handed >= 2 * sum(s.connect_day == 0 for s in province)
    assert [samples_in(m.value()) for m in messages] == [1] * handed


def test_a_publisher_polled_while_samples_come_at_1_hz_sends_them_alone(
    own_prefix: Settings, tmp_path: Path
) -> None:
    """An integrator's loop: readings once a second per device, poll() in between."""
    kafka_admin.ensure_topics(own_prefix)
    samples = [sample(i, 5) for i in range(15)]  # 3 seconds of 5 devices
    with Publisher(own_prefix, tmp_path / "spool.sqlite") as publisher:
        for second in range(3):
            for s in samples[second * 5 : second * 5 + 5]:
                publisher.publish_sample(s)
            until = time.monotonic() + 1.0
            while time.monotonic() < until:
                publisher.poll(0.05)
    messages = telemetry(own_prefix, len(samples))
    assert [samples_in(m.value()) for m in messages] == [1] * len(samples)


def test_a_spool_drain_sends_batch_records_and_every_sample_once(
    own_prefix: Settings, tmp_path: Path
) -> None:
    """What a previous run left in the spool goes first, as batch records: each device's
    consecutive samples packed, a birth or a malformed payload alone in its place."""
    kafka_admin.ensure_topics(own_prefix)
    names = {topic: topics.name(topic, own_prefix) for topic in Topic}
    samples = [sample(i, DEVICES) for i in range(6_000)]
    broken = sample(6_000, DEVICES)
    rows = [
        Record(names[Topic.TELEMETRY], s.device_id.encode(), encode(s), event_time_ms(s.ts))
        for s in samples
    ]
    key = broken.device_id.encode()
    cut = encode(broken)[:40]  # cut off mid-message
    rows.insert(3_000, Record(names[Topic.TELEMETRY], key, cut, event_time_ms(broken.ts)))
    rows.insert(4_000, Record(names[Topic.REGISTRY], key, b'{"a":"birth"}', 0))  # alone
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(rows)
    spool.close()

    wide = own_prefix.model_copy(update={"producer_batch_span_s": WIDE_SPAN_S})
    with Publisher(wide, tmp_path / "spool.sqlite", drain_round=2_500) as publisher:
        assert publisher.flush(60) == 0
        counters = publisher.counters
    assert counters.drained == counters.delivered == len(rows)
    assert counters.taken_back == counters.failed == 0

    messages = telemetry(own_prefix, len(samples) + 1)
    sizes = [samples_in(m.value()) for m in messages]
    assert sum(sizes) == len(samples) + 1
    assert len(messages) < len(samples) / 10, "a drain packs consecutive samples"
    assert [m.value() for m in messages].count(cut) == 1  # alone, not in a batch
    valid = [m for m in messages if m.value() != cut]
    assert_once_in_order(ids_in_arrival_order(valid), {(s.device_id, s.seq) for s in samples})
    # The cut one came between its device's samples, where it was spooled (row 3,000).
    arrived = by_device(messages)[key]
    place = arrived.index(cut)
    seqs = [decode(Sample, v or b"").seq for v in arrived if v != cut]
    assert seqs[place - 1] < 3_000 // DEVICES <= seqs[place]


def test_a_batch_record_kafka_refuses_is_dead_lettered_sample_by_sample(
    own_prefix: Settings, tmp_path: Path
) -> None:
    """A topic that takes no record over 6,000 bytes: every batch record of one busy device
    is refused, and each of its samples is counted failed and dead-lettered on its own."""
    name = topics.name(Topic.TELEMETRY, own_prefix)
    small = {"max.message.bytes": "6000"}
    kafka_admin.ensure_named_topics([(name, 1, small)], own_prefix)
    kafka_admin.ensure_topics(own_prefix)
    samples = [sample(i, 1) for i in range(300)]
    config = {"batch.size": 3_000, "compression.type": "none"}  # one record alone is taken
    wide = own_prefix.model_copy(update={"producer_batch_span_s": WIDE_SPAN_S})
    with Publisher(wide, tmp_path / "spool.sqlite", config=config) as publisher:
        for s in samples:
            publisher.publish_sample(s)
        assert publisher.flush(30) == 0
        counters = publisher.counters
    # Handed over: the samples, then a dead letter for each refused one (those go through).
    assert counters.failed == counters.dead_lettered > 0
    assert counters.handed == counters.accepted == len(samples) + counters.dead_lettered
    assert counters.delivered == counters.handed - counters.failed

    letters = read_topic(own_prefix, topics.name(Topic.DEADLETTER, own_prefix), counters.failed)
    refused = [decode(DeadLetter, m.value()) for m in letters]
    assert len(refused) == counters.failed
    assert {letter.code for letter in refused} == {"broker_refused"}
    seqs = sorted(decode(Sample, letter.payload or "").seq for letter in refused)
    arrived = one_sample_records(telemetry(own_prefix, len(samples) - counters.failed))
    delivered = [decode(Sample, record.value or b"").seq for record in arrived]
    assert sorted(seqs + delivered) == [s.seq for s in samples]
