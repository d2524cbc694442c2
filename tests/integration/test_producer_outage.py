"""Broker outages, on a private broker of this module's own (the shared one keeps running).

Kafka stopped mid-run while the simulator runs: every sample arrives, in order per device,
once — except records the Kafka client gave back while the broker went away
(`counters.taken_back`), which may arrive twice and are dropped downstream by
(device_id, seq). A publisher SIGKILLed while it spools loses nothing it had accepted.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from iiot import kafka_admin, topics
from iiot.contract import decode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from producers.publisher import Mode, Publisher
from simulators import Simulation, SimulationOptions
from tests.integration.private_stack import PrivateStack
from tests.integration.sample_maker import sample
from tests.integration.telemetry_reader import (
    assert_once_in_order,
    ids_in_arrival_order,
    read_topic,
)

pytestmark = pytest.mark.integration

DEVICES = 40
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    private = PrivateStack(tmp_path_factory.mktemp("producer-stack"))
    private.up("kafka")
    yield private
    private.purge()


def topics_for(stack: PrivateStack) -> Settings:
    settings = stack.settings(topic_prefix=f"outage-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    return settings


def telemetry_ids(settings: Settings, expected: int) -> list[tuple[str, int]]:
    topic = topics.name(topics.Topic.TELEMETRY, settings)
    return ids_in_arrival_order(read_topic(settings, topic, expected, timeout_s=30))


@pytest.mark.parametrize("batched", [False, True], ids=["publish", "publish_batch"])
def test_kafka_stopped_mid_run_loses_and_reorders_nothing(
    stack: PrivateStack, tmp_path: Path, batched: bool
) -> None:
    """The simulator keeps running through the outage, as `iiot simulate` would (record by
    record, or a batch at a time as `iiot simulate --speed max` hands them on)."""
    settings = topics_for(stack)
    publisher = Publisher(settings, tmp_path / "spool.sqlite", stall_s=5)
    events = Simulation(SimulationOptions(devices=DEVICES, duration_s=None)).run()
    published: set[tuple[str, int]] = set()

    def outage() -> None:
        stack.down("kafka")
        time.sleep(1)
        stack.up("kafka")

    outage_thread = threading.Thread(target=outage)

    def publish_for(seconds: float) -> None:  # about 5,000 records a second
        until = time.monotonic() + seconds
        while time.monotonic() < until or (outage_thread.is_alive() and seconds == 0):
            chunk = list(itertools.islice(events, 100))
            if batched:
                publisher.publish_batch(chunk)
            for event in chunk:
                if not batched:
                    publisher.publish(event.topic, event.key, event.value, event.timestamp_ms)
                if event.topic is Topic.TELEMETRY:
                    sample = decode(Sample, event.value)
                    published.add((sample.device_id, sample.seq))
            publisher.poll(0.02)

    publish_for(1.0)
    outage_thread.start()
    publish_for(0)  # all through the outage
    outage_thread.join()
    publish_for(1.0)
    assert publisher.flush(60) == 0
    counters = publisher.counters
    publisher.close()

    assert counters.outages >= 1 and counters.spooled > 0 and counters.drained > 0
    assert counters.accepted == counters.handed == len(published) + DEVICES  # + the births
    assert publisher.mode is Mode.LIVE
    ids = telemetry_ids(settings, len(published))
    assert_once_in_order(ids, published, counters.taken_back)


def test_a_publisher_killed_while_spooling_loses_nothing_it_accepted(
    stack: PrivateStack, tmp_path: Path
) -> None:
    settings = topics_for(stack)
    spool = tmp_path / "spool.sqlite"
    child = [sys.executable, "-m", "tests.integration.spool_child", settings.kafka_bootstrap]
    child += [settings.topic_prefix, str(spool)]

    stack.down("kafka")
    first = subprocess.Popen(
        [*child, "1000000", str(DEVICES)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    accepted = 0
    assert first.stdout is not None
    for line in first.stdout:
        accepted = int(line.split()[1])
        if accepted >= 20_000:
            break
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert accepted >= 20_000, "the publisher stopped accepting before it was killed"

    stack.up("kafka")
    second = subprocess.run(
        [*child, "0", str(DEVICES)], cwd=REPO, capture_output=True, text=True, timeout=90
    )
    assert second.stdout.strip() == "left 0", second.stderr[-2000:]

    ids = telemetry_ids(settings, accepted)
    arrived = len(ids)
    assert arrived >= accepted
    # What arrived is the run's first samples, each once and in order: the accepted ones and
    # those the spool committed after the last report, never a gap.
    assert_once_in_order(
        ids, {(s.device_id, s.seq) for s in map(lambda i: sample(i, DEVICES), range(arrived))}
    )
