"""The stream worker's device flow driven directly, without Kafka: records in as the Faust
events it reads (topic, partition, offset, timestamp, key, value), batches written, windows
emitted, and what it sent, decoded. The flow and its tables are the real ones, made by
`create_app` (which does not connect), as bench/stream_parts.py does."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from iiot import topics
from iiot.contract import decode
from iiot.results import DeadLetter
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.types import format_ts
from streams.app import create_app
from streams.batch import Batch, Outbox
from streams.device_flow import DeviceFlow
from streams.device_state import DeviceState
from tests.conftest import BIRTH, SAMPLE

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class Event:
    """What the device flow reads of a Faust event."""

    message: Message
    key: bytes | None
    value: bytes | None


def sample(device_id: str, seq: int, at_s: float, **fields: Any) -> dict[str, Any]:
    """A valid sample of `device_id`, `at_s` seconds after T0, a part made each."""
    value = copy.deepcopy(SAMPLE) | {"device_id": device_id, "seq": seq}
    value["ts"] = format_ts(T0 + timedelta(seconds=at_s))
    value["count_total"] = value["count_good"] = 1_000 + seq
    return value | fields


def birth(device_id: str, **fields: Any) -> bytes:
    return orjson.dumps(copy.deepcopy(BIRTH) | {"device_id": device_id} | fields)


@dataclass
class Worker:
    """One device flow, as one worker holds it."""

    settings: Settings = field(default_factory=lambda: Settings(topic_prefix="unit."))
    batch: Batch = field(default_factory=Batch)
    sent: Outbox = field(default_factory=list)  # everything written or emitted, in order
    offsets: defaultdict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self.app = create_app(self.settings)
        self.flow: DeviceFlow = self.app.device_flow  # type: ignore[attr-defined]

    def take(self, topic: Topic, key: bytes | None, value: bytes | None, partition: int = 0) -> int:
        """One record in; its offset."""
        name = topics.name(topic, self.settings)
        offset = self.offsets[name, partition]
        self.offsets[name, partition] += 1
        event = Event(Message(name, partition, offset, 1_795_000_000.0), key, value)
        self.flow.take(self.batch, event)  # type: ignore[arg-type]
        self.batch.events.append(event)  # type: ignore[arg-type]
        return offset

    def birth(self, device_id: str, partition: int = 0) -> int:
        return self.take(Topic.REGISTRY, device_id.encode(), birth(device_id), partition)

    def sample(
        self, value: dict[str, Any] | bytes, key: str | None = None, partition: int = 0
    ) -> int:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        device_id = key if key is not None else orjson.loads(raw)["device_id"]
        return self.take(Topic.TELEMETRY, device_id.encode(), raw, partition)

    def tick(self) -> None:
        """What the worker's timer does: write the batch, then emit the changed windows."""
        self.sent += self.flow.write(self.batch)
        self.batch = Batch()
        self.sent += self.flow.emit()

    def on(self, topic: Topic) -> list[bytes]:
        name = topics.name(topic, self.settings)
        return [value for to, _, value, _ in self.sent if to == name and value is not None]

    def letters(self) -> list[DeadLetter]:
        return [decode(DeadLetter, value) for value in self.on(Topic.DEADLETTER)]

    def windows(self) -> dict[str, dict[str, Any]]:
        """The newest revision of every device window sent to iiot.oee."""
        newest: dict[str, dict[str, Any]] = {}
        for value in self.on(Topic.OEE):
            window = orjson.loads(value)
            key = f"{window['entity_id']}|{window['window_start']}"
            if key not in newest or window["revision"] >= newest[key]["revision"]:
                newest[key] = window
        return newest


def failing_at_seq(seq: int) -> Callable[..., Any]:
    """`DeviceState.accept` with a bug that meets the reading of `seq` (monkeypatch it in)."""
    accept = DeviceState.accept

    def failing(self: DeviceState, reading: Any, config: Any) -> Any:
        if reading.seq == seq:
            raise RuntimeError(f"a bug met seq {seq}")
        return accept(self, reading, config)

    return failing
