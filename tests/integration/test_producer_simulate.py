"""`iiot simulate` end to end on the shared broker: what it says it delivered is on the topic,
and the simulator's injected malformed payloads are there as they were made (unvalidated), for
the stream's dead-letter path to find."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from iiot import kafka_admin, topics
from iiot.contract import ContractError, decode
from iiot.messages import Sample
from iiot.settings import Settings
from simulators import FaultRates, Simulation, SimulationOptions
from tests.integration.telemetry_reader import one_sample_records, read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEVICES = 20


@pytest.fixture
def own_prefix(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test's own, which `iiot simulate` creates; deleted afterwards."""
    prefix = f"{kafka.topic_prefix}simulate-{uuid.uuid4().hex[:6]}."
    settings = kafka.model_copy(update={"topic_prefix": prefix})
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)


def simulate_command(settings: Settings, spool: Path) -> tuple[list[str], dict[str, str]]:
    command = [sys.executable, "-m", "cli", "simulate", "--devices", str(DEVICES)]
    command += ["--json", "--spool", str(spool)]
    env = dict(os.environ, IIOT_TOPIC_PREFIX=settings.topic_prefix)
    env["IIOT_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    return command, env


def simulate(settings: Settings, spool: Path, *options: str) -> dict[str, Any]:
    """`iiot simulate --speed max --duration 600 --json` with `options`: its summary."""
    command, env = simulate_command(settings, spool)
    command += ["--speed", "max", "--duration", "600"]
    done = subprocess.run(
        [*command, *options], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_simulate_publishes_every_record_and_passes_injected_faults_through(
    own_prefix: Settings, tmp_path: Path
) -> None:
    faults = ["--fault", "malformed=0.02", "--fault", "duplicate=0.01"]
    summary = simulate(own_prefix, tmp_path / "spool.sqlite", *faults)
    assert summary["delivered"] == summary["handed"] == summary["accepted"]
    assert summary["spooled"] == summary["left_in_spool"] == summary["failed"] == 0
    injected = summary["injected"]
    assert injected["malformed"] > 0 and injected["duplicate"] > 0

    telemetry = summary["handed"] - DEVICES  # the births go to the registry
    received = read_topic(own_prefix, topics.name(topics.Topic.TELEMETRY, own_prefix), telemetry)
    records = one_sample_records(received)  # a batch record's samples each alone
    assert len(records) == telemetry
    malformed = 0
    for record in records:
        try:
            decode(Sample, record.value)
        except ContractError:
            malformed += 1
    assert malformed == injected["malformed"]
    births = read_topic(own_prefix, topics.name(topics.Topic.REGISTRY, own_prefix), DEVICES)
    assert len(births) == DEVICES


def test_simulate_with_workers_publishes_each_device_as_one_process_would(
    own_prefix: Settings, tmp_path: Path
) -> None:
    """`--workers 2`: each device's records arrive exactly as a single-process run makes
    them, in order; every worker has its own spool next to the one given."""
    options = ["--workers", "2", "--seed", "5"]
    options += ["--fault", "duplicate=0.01", "--fault", "out_of_order=0.01"]
    summary = simulate(own_prefix, tmp_path / "spool.sqlite", *options)
    assert summary["workers"] == 2
    assert summary["delivered"] == summary["handed"] == summary["accepted"]
    assert {p.name for p in tmp_path.glob("*.sqlite")} == {"spool.sqlite", "spool.w1.sqlite"}

    options = SimulationOptions(
        devices=DEVICES,
        duration_s=600,
        seed=5,
        faults=FaultRates(duplicate=0.01, out_of_order=0.01),
    )
    expected: defaultdict[bytes, list[bytes]] = defaultdict(list)
    for event in Simulation(options).run():
        if event.topic is topics.Topic.TELEMETRY:
            expected[event.key].append(event.value)
    telemetry = summary["handed"] - DEVICES
    assert telemetry == sum(len(v) for v in expected.values())
    arrived: defaultdict[bytes, list[bytes]] = defaultdict(list)
    topic = topics.name(topics.Topic.TELEMETRY, own_prefix)
    for record in one_sample_records(read_topic(own_prefix, topic, telemetry)):
        arrived[record.key].append(record.value)
    assert arrived == expected


def test_a_second_run_with_the_same_spool_continues_every_devices_seq(
    own_prefix: Settings, tmp_path: Path
) -> None:
    """A restarted simulator (same spool) numbers above the first run, so downstream its
    samples are new, not duplicates; `--start now` puts event time on the wall clock."""
    spool = tmp_path / "spool.sqlite"
    first = simulate(own_prefix, spool, "--duration", "120")
    before = time.time()
    second = simulate(own_prefix, spool, "--duration", "120", "--start", "now")
    telemetry = first["handed"] + second["handed"] - 2 * DEVICES
    topic = topics.name(topics.Topic.TELEMETRY, own_prefix)
    seqs: defaultdict[str, list[int]] = defaultdict(list)
    second_ts: list[float] = []
    for record in one_sample_records(read_topic(own_prefix, topic, telemetry)):
        sample = decode(Sample, record.value)
        seqs[sample.device_id].append(sample.seq)
        if sample.ts.timestamp() >= before - 1:
            second_ts.append(sample.ts.timestamp())
    # Unconnected devices send their birth only (docs/simulator.md).
    province = Simulation(SimulationOptions(devices=DEVICES)).devices
    assert set(seqs) == {s.birth.device_id for s in province if s.connect_day == 0}
    for device_seqs in seqs.values():  # one partition per device: in publishing order
        assert device_seqs == list(range(1, len(device_seqs) + 1))
    assert sum(map(len, seqs.values())) == telemetry
    # The second run started at the wall clock, to the second (not at the fixed default).
    assert len(second_ts) == second["handed"] - DEVICES
    assert before - 1 <= min(second_ts) <= time.time()


def records_on(settings: Settings, topic: str) -> int:
    """Records on `topic` (all partitions), 0 while it does not exist or, just made, has
    no leader yet."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"test-{uuid.uuid4().hex}"}
    )
    try:
        meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if meta is None or meta.error is not None:
            return 0
        ends = [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            for p in meta.partitions
        ]
        return sum(high - low for low, high in ends)
    except KafkaException:  # e.g. NOT_LEADER_FOR_PARTITION while the topic is being made
        return 0
    finally:
        consumer.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_simulate_cleanly_whichever_it_is(
    own_prefix: Settings, tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C and `docker stop`/Kubernetes (SIGTERM) alike: the loop stops, what was handed
    is flushed to Kafka, the summary is printed, exit 0 (cli/signals.py)."""
    command, env = simulate_command(own_prefix, tmp_path / "spool.sqlite")
    command += ["--speed", "60", "--duration", "0"]  # until stopped
    telemetry = topics.name(topics.Topic.TELEMETRY, own_prefix)
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while records_on(own_prefix, telemetry) < DEVICES and time.monotonic() < deadline:
                assert process.poll() is None, process.communicate()[1][-2000:]
                time.sleep(0.5)
            process.send_signal(signum)
            out, err = process.communicate(timeout=60)
        finally:  # it runs until stopped: never leave it running (nor wait on it forever)
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])  # the last line: the summary
    assert summary["handed"] > DEVICES
    assert summary["delivered"] == summary["handed"] == summary["accepted"]
    assert summary["left_in_spool"] == summary["failed"] == 0
    samples = summary["handed"] - DEVICES  # the births went to the registry
    assert len(one_sample_records(read_topic(own_prefix, telemetry, samples))) == samples
