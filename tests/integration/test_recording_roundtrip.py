"""Record → replay → record gives the same records (values byte for byte, keys, headers,
timestamps, per-key order), each in the partition `iiot kpi` computes with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from iiot import kafka_admin
from iiot.recording import Recorded, Writer, read
from iiot.settings import Settings
from streams.offline import partition_of
from tests.invoke import iiot

pytestmark = pytest.mark.integration


@pytest.fixture
def own(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test's own prefix (others read the run's telemetry whole)."""
    settings = Settings(topic_prefix=f"{kafka.topic_prefix}rt-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)  # its own, unique


def run(settings: Settings, *args: str) -> None:
    result = iiot(*args, env={"IIOT_TOPIC_PREFIX": settings.topic_prefix})
    assert result.exit_code == 0, result.output


def by_key(records: list[Recorded]) -> dict[tuple[str, bytes | None], list[tuple]]:
    keys: dict[tuple[str, bytes | None], list[tuple]] = {}
    for r in records:
        keys.setdefault((r.topic, r.key), []).append((r.value, r.headers, r.timestamp_ms))
    return keys


def test_record_replay_record_gives_the_same_records(own: Settings, tmp_path: Path) -> None:
    simulated = tmp_path / "simulated.jsonl"
    faults = "malformed=0.01,duplicate=0.01,out_of_order=0.01"
    run(own, "simulate", "-n", "4", "--duration", "300", "--fault", faults, "--out", str(simulated))
    first = tmp_path / "first.jsonl.gz"
    with Writer(first) as writer:  # with headers, which the simulator does not send
        for i, record in enumerate(read(simulated)):
            trace = (("trace", f"t{i}".encode()), ("empty", None)) if i % 5 == 0 else ()
            writer.write(Recorded(record.topic, record.key, record.value, record.timestamp_ms,
                                  trace))  # fmt: skip
    run(own, "replay", str(first), "--speed", "max", "--quiet")
    run(own, "record", "--out", str(tmp_path / "second.jsonl"), "--quiet")
    recorded = list(read(tmp_path / "second.jsonl"))
    assert by_key(recorded) == by_key(list(read(first)))
    for r in recorded:
        assert r.partition == partition_of(r.key, own.telemetry_partitions), r
