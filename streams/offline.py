"""The stream worker's results from a recording, without Kafka or Faust running (`iiot kpi`).

The same device flow and roll-up flow the worker runs (made by `create_app`, which does not
connect) take the recording's records as the worker would read them: each in the telemetry
partition its key hashes to (the producers' and Kafka's murmur2), in the recording's order.
Batches are written and windows emitted every `tick_records` records, as the worker's timer
would; the stream gives the same windows however its input is batched
(tests/unit/streams/test_device_flow_batches.py), so the newest revision of each window is
what the pipeline's database holds after a replay of the same recording.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from iiot import topics
from iiot.recording import Recorded
from iiot.settings import Settings
from iiot.topics import Topic
from streams.app import create_app
from streams.batch import Batch, Outbox

TICK_RECORDS = 2_000  # records between two writes and emits (the worker's timer: seconds)
INPUTS = {Topic.REGISTRY.value, Topic.TELEMETRY.value}


def partition_of(key: bytes | None, partitions: int) -> int:
    """Where Kafka's default partitioner puts `key` (a record without one: partition 0)."""
    return 0 if key is None else (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    partition: int
    offset: int
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class _Event:
    """What the flows read of a Faust event."""

    message: _Message
    key: bytes | None
    value: bytes | None


@dataclass
class Results:
    """The newest revision of every window, and every dead letter, as sent."""

    oee: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    digitization: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deadletters: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0  # of the recording's inputs taken
    ignored: int = 0  # records of other topics

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every result as a row: {"table": …, …the message's fields} as the database has
        them (not `v`, nor `revision`: how often a window was sent, which batching
        changes), in a stable order."""
        for _, window in sorted(self.oee.items()):
            yield {"table": "oee", **_kpis(window)}
        for _, window in sorted(self.digitization.items()):
            yield {"table": "digitization", **_kpis(window)}
        for letter in self.deadletters:
            yield {"table": "deadletter", **_kpis(letter)}


def _kpis(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("v", "revision")}


def compute(
    records: Iterable[Recorded], settings: Settings, tick_records: int = TICK_RECORDS
) -> Results:
    """Run the recording's registry and telemetry records through the stream's flows."""
    app = create_app(settings)
    devices, rollups = app.device_flow, app.rollup_flow  # type: ignore[attr-defined]
    results = Results()
    names = {t: topics.name(t, settings) for t in Topic}
    feed, offsets = devices.feed_topic, dict[tuple[str, int], int]()
    batch, members = Batch(), Batch()

    def route(out: Outbox) -> None:
        """What the flows sent: roll-up feed records to the roll-up flow, the rest kept."""
        for topic, key, value, _ in out:
            if topic == feed:
                at = offsets.setdefault((feed, 0), 0)
                offsets[feed, 0] = at + 1
                rollups.take(members, _Event(_Message(feed, 0, at, None), key, value))
            elif value is not None:
                _keep(results, names, topic, value)

    def tick() -> None:
        nonlocal batch, members
        route(devices.write(batch))
        batch = Batch()
        route(devices.emit())
        route(rollups.write(members))
        members = Batch()
        route(rollups.emit())

    partitions = settings.telemetry_partitions
    for record in records:
        if record.topic not in INPUTS:
            results.ignored += 1
            continue
        name = topics.name(Topic(record.topic), settings)
        partition = partition_of(record.key, partitions)
        at = offsets.setdefault((name, partition), 0)
        offsets[name, partition] = at + 1
        stamp = None if record.timestamp_ms is None else record.timestamp_ms / 1000
        event = _Event(_Message(name, partition, at, stamp), record.key, record.value)
        devices.take(batch, event)
        results.records += 1
        if results.records % tick_records == 0:
            tick()
    tick()
    tick()  # the roll-ups of the last device windows
    return results


def _keep(results: Results, names: dict[Topic, str], topic: str, value: bytes) -> None:
    """A window kept if it is the newest revision of its key, a dead letter always; alarms
    are not KPI rows."""
    doc = orjson.loads(value)
    if topic == names[Topic.DEADLETTER]:
        results.deadletters.append(doc)
        return
    if topic == names[Topic.OEE]:
        windows: dict[Any, dict[str, Any]] = results.oee
        key: tuple[str, ...] = (doc["level"], doc["entity_id"], doc["window_start"])
    elif topic == names[Topic.DIGITIZATION]:
        windows, key = results.digitization, (doc["enterprise_id"], doc["window_start"])
    else:
        return
    held = windows.get(key)
    if held is None or doc["revision"] >= held["revision"]:
        windows[key] = doc
