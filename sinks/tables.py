"""Where each topic's messages land: target tables, their keys, and message → row.

A `Target` is one table with its staging layout and its conflict rule; a `Route` turns a
decoded message into rows of one or more targets (a DeviceBirth fills `enterprise` and
`device`). Rows are plain tuples in the target's column order, ready for binary COPY.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message
from pydantic import BaseModel

from iiot.messages import DeviceBirth, Sample
from iiot.results import Alarm, DeadLetter, DigitizationWindow, OeeWindow
from iiot.topics import Topic
from iiot.wire.sample_batch import sample_json

Row = tuple[Any, ...]
JSONB_V1 = b"\x01"  # jsonb's binary format: this version byte, then JSON text
# What wins when a key is written again: nothing (first write stays), a higher revision,
# or a newer announcement (the registry).
Conflict = Literal["keep_first", "higher_revision", "newer_announcement"]


class Origin:
    """Where a message came from: its logical topic and the Kafka message itself.

    Read lazily: for most rows nobody asks, and a sink handles 100,000 of them a second.
    """

    __slots__ = ("message", "topic")

    def __init__(self, topic: str, message: Message) -> None:
        self.topic = topic  # logical, without the prefix
        self.message = message

    @property
    def partition(self) -> int:
        return self.message.partition() or 0

    @property
    def offset(self) -> int:
        return self.message.offset() or 0

    @property
    def key(self) -> bytes | None:
        return self.message.key()  # type: ignore[return-value]

    @property
    def value(self) -> bytes | None:
        return self.message.value()  # type: ignore[return-value]

    @property
    def timestamp_ms(self) -> int | None:
        kind, ms = self.message.timestamp()
        return ms if kind != TIMESTAMP_NOT_AVAILABLE else None

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp((self.timestamp_ms or 0) / 1000, UTC)

    sample_index = 0  # a record is its own only sample


class SampleOrigin(Origin):
    """Where one sample of a batch record came from: the record, and which of its samples.

    Its `value` is the sample as a Sample value of its own, what a dead letter of it keeps.
    """

    __slots__ = ("device_id", "element", "sample_index")

    def __init__(self, record: Origin, device_id: str, element: Any, sample_index: int) -> None:
        self.topic, self.message = record.topic, record.message
        self.device_id, self.element, self.sample_index = device_id, element, sample_index

    @property
    def value(self) -> bytes:
        return sample_json(self.device_id, self.element)


@dataclass(frozen=True, eq=False)
class Target:
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type of the staging column)
    key: tuple[str, ...]
    conflict: Conflict
    time_column: str | None = None  # the partitioning column, on partitioned tables

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def wire_types(self) -> list[str]:
        """Types for binary COPY. A jsonb value goes as bytes already in jsonb's binary
        form (version byte 1, then the JSON text): no JSON parsing on the client."""
        return ["bytea" if kind == "jsonb" else kind for _, kind in self.columns]

    def time_index(self) -> int | None:
        return self.names.index(self.time_column) if self.time_column else None


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    """'a text, b int8' → (('a', 'text'), ('b', 'int8'))."""
    return tuple((p.split()[0], p.split()[1]) for p in spec.split(","))


ENTERPRISE = Target(
    "enterprise",
    _cols("enterprise_id text, name text, city text, industry text, cloud bool, "
          "announced_at timestamptz"),
    ("enterprise_id",),
    "newer_announcement",
)  # fmt: skip
DEVICE = Target(
    "device",
    _cols("device_id text, enterprise_id text, plant_id text, line_id text, kind text, "
          "key_process bool, numerically_controlled bool, sample_interval_s float8, "
          "ideal_cycle_s float8, announced_at timestamptz"),
    ("device_id",),
    "newer_announcement",
)  # fmt: skip
# A plant's shift calendar, replaced whole by a newer birth carrying one (migration 0013).
PLANT_CALENDAR = Target(
    "plant_calendar",
    _cols("plant_id text, time_zone text, shifts jsonb, announced_at timestamptz"),
    ("plant_id",),
    "newer_announcement",
)
TELEMETRY = Target(
    "telemetry",
    _cols("device_id text, seq int8, ts timestamptz, state text, count_total int8, "
          "count_good int8, ideal_cycle_s float8, product text, reason text, metrics jsonb"),
    ("device_id", "ts", "seq"),
    "keep_first",
    time_column="ts",
)  # fmt: skip
OEE = Target(
    "oee",
    _cols("level text, entity_id text, window_start timestamptz, window_end timestamptz, "
          "revision int8, devices int4, samples int8, late_samples int8, run_s float8, "
          "idle_s float8, setup_s float8, down_s float8, planned_stop_s float8, "
          "unknown_s float8, planned_s float8, ideal_run_s float8, count_total int8, "
          "count_good int8, availability float8, performance float8, quality float8, "
          "oee float8, performance_suspect bool"),
    ("level", "entity_id", "window_start"),
    "higher_revision",
    time_column="window_start",
)  # fmt: skip
DIGITIZATION = Target(
    "digitization",
    _cols("enterprise_id text, window_start timestamptz, window_end timestamptz, "
          "revision int8, devices_registered int8, devices_reporting int8, "
          "samples_received int8, samples_expected float8, key_process_devices int8, "
          "key_process_nc_reporting int8, devices_with_oee int8, cloud bool, "
          "connectivity float8, completeness float8, key_process_nc float8, "
          "oee_coverage float8, index float8"),
    ("enterprise_id", "window_start"),
    "higher_revision",
    time_column="window_start",
)  # fmt: skip
ALARM = Target(
    "alarm",
    _cols("device_id text, kind text, raised_at timestamptz, status text, ts timestamptz, "
          "value float8, threshold float8, message text"),
    ("device_id", "kind", "raised_at", "status"),
    "keep_first",
)  # fmt: skip
# Keyed by where the bad record sat (its origin), not by where its letter sits: a record
# refused by two stages, or lettered again after a restart, is one row (migration 0009).
DEADLETTER = Target(
    "deadletter",
    _cols("origin_topic text, origin_partition int4, origin_offset int8, sample_index int4, "
          "dl_partition int4, dl_offset int8, received_at timestamptz, stage text, code text, "
          "reason text, topic text, partition int4, offset int8, key text, "
          "timestamp_ms int8, payload text, payload_b64 text, payload_bytes int8, "
          "payload_sha256 text"),
    ("origin_topic", "origin_partition", "origin_offset", "sample_index"),
    "keep_first",
)  # fmt: skip

# Written in this order in one transaction: a device's enterprise exists before the device.
TARGETS = (ENTERPRISE, DEVICE, PLANT_CALENDAR, TELEMETRY, OEE, DIGITIZATION, ALARM, DEADLETTER)


def _birth_rows(m: DeviceBirth, origin: Origin) -> list[tuple[Target, Row]]:
    e, at = m.enterprise, origin.received_at
    rows: list[tuple[Target, Row]] = [
        (ENTERPRISE, (e.id, e.name, e.city, e.industry, e.cloud, at)),
        (DEVICE, (m.device_id, e.id, m.plant_id, m.line_id, m.kind, m.key_process,
                  m.numerically_controlled, m.sample_interval_s, m.ideal_cycle_s, at)),
    ]  # fmt: skip
    if m.shift_calendar is not None:  # a birth without one leaves the plant's as it is
        c = m.shift_calendar
        shifts = JSONB_V1 + orjson.dumps([s.model_dump() for s in c.shifts])
        rows.append((PLANT_CALENDAR, (m.plant_id, c.time_zone, shifts, at)))
    return rows


def _sample_rows(m: Sample, origin: Origin) -> list[tuple[Target, Row]]:
    return [(TELEMETRY, sample_row(m))]


def sample_row(m: Sample) -> Row:
    metrics = JSONB_V1 + orjson.dumps(m.metrics)
    return (m.device_id, m.seq, m.ts, m.state, m.count_total, m.count_good, m.ideal_cycle_s,
            m.product, m.reason, metrics)  # fmt: skip


def _model_rows(target: Target) -> Callable[[BaseModel, Origin], list[tuple[Target, Row]]]:
    """Rows whose columns are the model's fields of the same names."""
    names = target.names

    def rows(m: BaseModel, origin: Origin) -> list[tuple[Target, Row]]:
        return [(target, tuple(getattr(m, name) for name in names))]

    return rows


def _deadletter_rows(m: DeadLetter, origin: Origin) -> list[tuple[Target, Row]]:
    payload, payload_b64 = m.payload, m.payload_b64
    if payload is not None and "\x00" in payload:  # PostgreSQL text cannot hold NUL
        payload, payload_b64 = None, payload_b64 or _b64(payload.encode())
    key = m.key.replace("\x00", "\\0") if m.key else m.key
    return [
        (DEADLETTER, (*origin_of(m, origin), m.sample_index, origin.partition, origin.offset,
                      origin.received_at, m.stage, m.code, m.reason.replace("\x00", "\\0"),
                      m.topic, m.partition, m.offset, key, m.timestamp_ms,
                      payload, payload_b64, m.payload_bytes, m.payload_sha256)),
    ]  # fmt: skip


def origin_of(m: DeadLetter, letter: Origin) -> tuple[str, int, int]:
    """Where the refused record sat in Kafka; for one that never reached Kafka (a producer's
    refusal at the edge), where its letter sits: the first place Kafka holds it."""
    if m.topic is not None and m.partition is not None and m.offset is not None:
        return m.topic, m.partition, m.offset
    return letter.topic, letter.partition, letter.offset


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Route:
    topic: Topic
    model: type[BaseModel]
    rows: Callable[[Any, Origin], list[tuple[Target, Row]]]


ROUTES: dict[Topic, Route] = {
    Topic.REGISTRY: Route(Topic.REGISTRY, DeviceBirth, _birth_rows),
    Topic.TELEMETRY: Route(Topic.TELEMETRY, Sample, _sample_rows),
    Topic.OEE: Route(Topic.OEE, OeeWindow, _model_rows(OEE)),
    Topic.DIGITIZATION: Route(Topic.DIGITIZATION, DigitizationWindow, _model_rows(DIGITIZATION)),
    Topic.ALARMS: Route(Topic.ALARMS, Alarm, _model_rows(ALARM)),
    Topic.DEADLETTER: Route(Topic.DEADLETTER, DeadLetter, _deadletter_rows),
}
