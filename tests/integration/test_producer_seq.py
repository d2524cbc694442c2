"""Readings without seq, against the shared broker: the Publisher numbers them per device,
rising by one, continued across a clean restart, and never repeated after a SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from iiot import kafka_admin, topics
from iiot.contract import decode
from iiot.messages import Sample
from iiot.settings import Settings
from producers.publisher import Publisher, ReadingRejected
from tests.integration.sample_maker import reading
from tests.integration.telemetry_reader import one_sample_records, read_topic

pytestmark = pytest.mark.integration

DEVICES = 3
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_prefix(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test alone: it reads its telemetry topic whole."""
    prefix = f"{kafka.topic_prefix}seq-{uuid.uuid4().hex[:6]}."
    settings = kafka.model_copy(update={"topic_prefix": prefix})
    kafka_admin.ensure_topics(settings)
    yield settings
    kafka_admin.delete_prefixed_topics(prefix, settings)


def arrived(settings: Settings, expected: int) -> list[Sample]:
    topic = topics.name(topics.Topic.TELEMETRY, settings)
    records = one_sample_records(read_topic(settings, topic, expected))
    return [decode(Sample, record.value) for record in records]


def seqs_by_device(samples: list[Sample]) -> dict[str, list[int]]:
    by_device: defaultdict[str, list[int]] = defaultdict(list)
    for s in samples:
        by_device[s.device_id].append(s.seq)
    return by_device


def test_readings_without_seq_are_numbered_and_a_restart_continues(
    own_prefix: Settings, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.sqlite"
    with Publisher(own_prefix, spool) as first:
        for i in range(150):  # dicts and JSON text, as adapters hand them over
            r = reading(i, DEVICES)
            assert first.publish_reading(r if i % 2 else orjson.dumps(r)).seq == i // DEVICES + 1
        bad = {**reading(150, DEVICES), "count_good": 10, "count_total": 3}
        with pytest.raises(ReadingRejected):
            first.publish_reading(bad)  # refused: it takes no seq
        assert first.flush(30) == 0
    with Publisher(own_prefix, spool) as second:  # a clean restart: no gap
        for i in range(150, 300):
            second.publish_reading(reading(i, DEVICES))
        assert second.flush(30) == 0

    by_device = seqs_by_device(arrived(own_prefix, 300))
    assert len(by_device) == DEVICES
    assert all(seqs == list(range(1, 101)) for seqs in by_device.values()), by_device


def test_a_reading_with_its_own_seq_keeps_it_and_raises_the_mark(
    own_prefix: Settings, tmp_path: Path
) -> None:
    with Publisher(own_prefix, tmp_path / "spool.sqlite") as publisher:
        assert publisher.publish_reading(reading(0, 1)).seq == 1
        assert publisher.publish_reading({**reading(1, 1), "seq": 40}).seq == 40
        assert publisher.publish_reading(reading(2, 1)).seq == 41
        assert publisher.flush(30) == 0
    assert [s.seq for s in arrived(own_prefix, 3)] == [1, 40, 41]


def test_a_publisher_killed_mid_run_never_repeats_a_seq(
    own_prefix: Settings, tmp_path: Path
) -> None:
    child = [sys.executable, "-m", "tests.integration.seq_child", own_prefix.kafka_bootstrap]
    child += [own_prefix.topic_prefix, str(tmp_path / "spool.sqlite")]
    first = subprocess.Popen(
        [*child, "10000000", str(DEVICES), "RUN-1"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    accepted = 0
    assert first.stdout is not None
    for line in first.stdout:
        accepted = int(line.split()[1])
        if accepted >= 5_000:
            break
    first.send_signal(signal.SIGKILL)  # live, with records in the client: some are lost
    first.wait(10)
    assert accepted >= 5_000, "the publisher stopped accepting before it was killed"
    second = subprocess.run(
        [*child, "3000", str(DEVICES), "RUN-2"], cwd=REPO, capture_output=True, text=True,
        timeout=90,
    )  # fmt: skip
    assert second.stdout.strip().endswith("done"), second.stderr[-2000:]

    samples = arrived(own_prefix, accepted + 3_000)
    assert sum(s.product == "RUN-2" for s in samples) == 3_000
    for device, seqs in seqs_by_device(samples).items():
        assert seqs == sorted(set(seqs)), f"{device}: a seq repeated or went back"
    first_run = seqs_by_device([s for s in samples if s.product == "RUN-1"])
    second_run = seqs_by_device([s for s in samples if s.product == "RUN-2"])
    for device, seqs in second_run.items():
        assert seqs[0] > max(first_run[device])
        assert seqs == list(range(seqs[0], seqs[0] + 1_000))  # rising by one within a run
