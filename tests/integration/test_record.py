"""`iiot record` against the real broker: every record comes back as it was sent (keys,
values byte for byte, headers, per-partition order), each partition up to its end, and
--from, --to and --max bound it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from iiot import kafka_admin
from iiot.recording import Recorded, read
from iiot.settings import Settings
from tests.invoke import iiot

pytestmark = pytest.mark.integration

T0 = 1_764_144_000_000  # 2025-11-26T08:00:00Z


def sent() -> list[Recorded]:
    """Births, samples (one a batch record), a malformed one, a header, a tombstone."""
    births = [
        Recorded("iiot.registry", f"press-{d}".encode(), b'{"v":1,"device_id":"press-%d"}' % d, T0)
        for d in range(3)
    ]
    samples = [
        Recorded(
            "iiot.telemetry",
            f"press-{i % 3}".encode(),
            b'{"v":1,"device_id":"press-%d","seq":%d}' % (i % 3, i),
            T0 + i * 1000,
            (("trace", f"t{i}".encode()),) if i % 7 == 0 else (),
        )
        for i in range(60)
    ]
    odd = [
        Recorded("iiot.telemetry", b"press-1", b"{not json \xff", T0 + 61_000),
        Recorded("iiot.telemetry", b"press-2", b'{"v":1,"samples":[{"seq":1}]}', T0 + 62_000),
        Recorded("iiot.registry", b"press-0", None, T0 + 63_000),  # a tombstone
    ]
    return births + samples + odd


@pytest.fixture(scope="module")
def published(kafka: Settings) -> Iterator[Settings]:
    """The records on topics of this module's own prefix (others read the run's whole)."""
    settings = Settings(topic_prefix=f"{kafka.topic_prefix}rec-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    for r in sent():
        producer.produce(
            settings.topic_prefix + r.topic, r.value, r.key,
            timestamp=r.timestamp_ms, headers=list(r.headers) or None,
        )  # fmt: skip
    assert producer.flush(30) == 0
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)  # its own, unique


def record(settings: Settings, out: Path, *args: str) -> list[Recorded]:
    env = {"IIOT_TOPIC_PREFIX": settings.topic_prefix}
    result = iiot("record", "--out", str(out), "--quiet", *args, env=env)
    assert result.exit_code == 0, result.output
    return list(read(out))


def as_sent(records: list[Recorded]) -> list[Recorded]:
    return [Recorded(r.topic, r.key, r.value, r.timestamp_ms, r.headers) for r in records]


def per_key(records: list[Recorded]) -> dict[tuple[str, bytes | None], list[Recorded]]:
    keys: dict[tuple[str, bytes | None], list[Recorded]] = {}
    for r in records:
        keys.setdefault((r.topic, r.key), []).append(r)
    return keys


def test_every_record_comes_back_as_it_was_sent(published: Settings, tmp_path: Path) -> None:
    got = record(published, tmp_path / "all.jsonl.gz")
    assert per_key(as_sent(got)) == per_key(sent())  # per key: in the order sent
    assert all(r.partition is not None and r.offset is not None for r in got)


def test_from_to_and_max_bound_it(published: Settings, tmp_path: Path) -> None:
    since = record(published, tmp_path / "from.jsonl", "--topics", "iiot.telemetry",
                   "--from", "2025-11-26T08:00:50Z", "--to", "2025-11-26T08:01:01Z")  # fmt: skip
    assert sorted(r.timestamp_ms for r in since) == [T0 + i * 1000 for i in (*range(50, 60), 61)]
    assert len(record(published, tmp_path / "max.jsonl", "--max", "5")) == 5


def test_a_topic_that_is_not_there_is_one_line(published: Settings, tmp_path: Path) -> None:
    env = {"IIOT_TOPIC_PREFIX": published.topic_prefix}
    result = iiot("record", "--out", str(tmp_path / "x.jsonl"), "--topics", "iiot.nothing", env=env)
    assert result.exit_code == 1
    assert f"topic {published.topic_prefix}iiot.nothing does not exist" in result.output


def test_ctrl_c_leaves_a_whole_file(published: Settings, tmp_path: Path) -> None:
    """--follow reads until stopped; SIGINT then closes the gzip file properly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "followed.jsonl.gz"
    env = os.environ | {"IIOT_TOPIC_PREFIX": published.topic_prefix}
    args = [sys.executable, "-m", "cli", "record", "--follow", "--quiet", "--out", str(out)]
    child = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while lines_in(out) < len(sent()) and time.monotonic() < deadline:
        time.sleep(0.2)  # every record there is written, and flushed while none come
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert b"(stopped)" in err
    assert per_key(as_sent(list(read(out)))) == per_key(sent())


def lines_in(path: Path) -> int:
    """Lines of a gzip file still being written (flushed up to a sync point)."""
    import zlib

    if not path.exists():
        return 0
    return zlib.decompressobj(wbits=31).decompress(path.read_bytes()).count(b"\n")
