"""The Publisher with a full spool, on a private broker that is stopped and started again.

Bug 7 (third point): the spool had no cap, and a full disk crashed the producer. Now, while
Kafka is away and the spool has no room (its cap, or a real full file system: a tmpfs
mounted for the test), new records are refused with `SpoolFull` — the caller sees it and
`counters.refused` counts it — while everything taken is kept and, once Kafka is back,
delivered each once and in order; then records are taken again.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from iiot import kafka_admin, topics
from iiot.settings import Settings
from iiot.topics import Topic
from producers.publisher import Mode, Publisher
from producers.spool import SpoolFull
from tests.integration.private_stack import PrivateStack
from tests.integration.sample_maker import sample
from tests.integration.telemetry_reader import (
    assert_once_in_order,
    ids_in_arrival_order,
    read_topic,
)

pytestmark = pytest.mark.integration

DEVICES = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    private = PrivateStack(tmp_path_factory.mktemp("spool-full-stack"))
    private.up("kafka")
    yield private
    private.purge()


@pytest.fixture(params=["cap", "full disk"])
def spool_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if request.param == "cap":
        yield "cap", tmp_path
        return
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield "full disk", mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_spool_refuses_new_records_and_loses_none_it_took(
    stack: PrivateStack, spool_dir: tuple[str, Path]
) -> None:
    kind, directory = spool_dir
    cap = 300_000 if kind == "cap" else 1_000_000_000  # the disk (1 MB) is the limit
    settings = stack.settings(topic_prefix=f"full-{uuid.uuid4().hex[:6]}.", spool_max_bytes=cap)
    kafka_admin.ensure_topics(settings)
    stack.down("kafka")
    with Publisher(settings, directory / "spool.sqlite", stall_s=2, spool_batch=100) as publisher:
        check_full_spool(stack, publisher, kind, cap, settings)


def check_full_spool(
    stack: PrivateStack, publisher: Publisher, kind: str, cap: int, settings: Settings
) -> None:
    taken: set[tuple[str, int]] = set()
    refusals: list[SpoolFull] = []
    index = 0
    while len(refusals) < 500:
        s = sample(index, DEVICES)
        index += 1
        try:
            publisher.publish_sample(s)
        except SpoolFull as full:
            refusals.append(full)
            continue
        finally:
            if index % 50 == 0:
                publisher.poll(0.01)
        assert not refusals, f"{s.device_id} seq {s.seq} taken after a refusal"
        taken.add((s.device_id, s.seq))
    assert publisher.mode is Mode.SPOOLING
    assert publisher.counters.refused == len(refusals)
    assert "record refused" in str(refusals[0]) and (
        "IIOT_SPOOL_MAX_BYTES" in str(refusals[0])
        if kind == "cap"
        else "the disk is full" in str(refusals[0])
    ), refusals[0]
    if kind == "cap":
        assert publisher.spool.used_bytes() <= cap + 100 * 4096
    assert len(taken) > 500 and publisher.counters.handed == len(taken)

    stack.up("kafka")
    assert publisher.flush(90) == 0
    assert publisher.mode is Mode.LIVE
    after = [sample(i, DEVICES) for i in range(index, index + 100)]
    for s in after:  # room again: taken
        publisher.publish_sample(s)
    assert publisher.flush(30) == 0
    counters = publisher.counters
    assert counters.refused == len(refusals) and counters.pending == 0
    assert counters.delivered == len(taken) + len(after)
    expected = taken | {(s.device_id, s.seq) for s in after}
    topic = topics.name(Topic.TELEMETRY, settings)
    ids = ids_in_arrival_order(read_topic(settings, topic, len(expected), timeout_s=30))
    assert_once_in_order(ids, expected, counters.taken_back)


def test_settings_cap_reaches_the_spool(tmp_path: Path) -> None:
    settings = Settings(spool_max_bytes=123_456, kafka_bootstrap="127.0.0.1:1")
    publisher = Publisher(settings, tmp_path / "spool.sqlite")
    try:
        assert publisher.spool.max_bytes == 123_456
    finally:
        publisher.close(timeout_s=0)
