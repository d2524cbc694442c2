"""What the pipeline derives: OEE and digitization windows, alarms, dead letters."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from iiot.types import (
    MODEL_CONFIG,
    Count,
    EntityId,
    EventTime,
    Level,
    Name,
    Ratio,
    Seconds,
    format_ts,
)

_TOLERANCE_S = 1e-6


class OeeWindow(BaseModel):
    """OEE of one entity (device or roll-up) in one event-time window, with all its parts.

    Roll-ups add the parts and recompute the ratios (docs/kpi.md); keyed on `iiot.oee` by
    `level:entity_id:window_start`. A corrected window comes again with a higher revision.
    """

    model_config = MODEL_CONFIG

    v: Literal[1] = 1
    level: Level
    entity_id: EntityId
    window_start: EventTime
    window_end: EventTime
    revision: Count = Field(description="Rises each time this window is emitted corrected.")
    devices: Annotated[int, Field(ge=1)] = Field(description="Devices whose parts are added.")
    samples: Count = Field(description="Samples whose intervals begin in the window.")
    late_samples: Count = Field(0, description="Samples that came after the grace period.")

    run_s: Seconds = Field(description="Time running (APT).")
    idle_s: Seconds = Field(description="Unplanned idle: starved, blocked, micro-stops.")
    setup_s: Seconds = Field(description="Changeover and adjustment.")
    down_s: Seconds = Field(description="Breakdown, fault.")
    planned_stop_s: Seconds = Field(description="Breaks, planned maintenance, no order.")
    unknown_s: Seconds = Field(description="Time not covered by any sample (beyond max_gap).")
    planned_s: Seconds = Field(description="PBT = window − planned_stop − unknown.")
    ideal_run_s: Seconds = Field(description="Σ ideal_cycle_s × count_total delta.")
    count_total: Count = Field(description="Parts made in the window (counter delta).")
    count_good: Count = Field(description="Good parts made in the window.")

    availability: Ratio | None = Field(description="run_s / planned_s; null if planned_s = 0.")
    performance: Annotated[float, Field(ge=0)] | None = Field(
        description="ideal_run_s / run_s; null if run_s = 0; above 1 is kept and flagged."
    )
    quality: Ratio | None = Field(description="count_good / count_total; null if no parts.")
    oee: Annotated[float, Field(ge=0)] | None = Field(
        description="ideal_run_s × quality / planned_s; 0 if no parts; null if planned_s = 0."
    )
    performance_suspect: bool = Field(
        False, description="performance > 1: the ideal cycle time is wrong."
    )

    @model_validator(mode="after")
    def _parts_add_up(self) -> OeeWindow:
        window_s = (self.window_end - self.window_start).total_seconds()
        if window_s <= 0:
            raise ValueError("window_end must be after window_start")
        if self.count_good > self.count_total:
            raise ValueError("count_good must not exceed count_total")
        total_s = window_s * self.devices
        states_s = (
            self.run_s + self.idle_s + self.setup_s + self.down_s + self.planned_stop_s
        ) + self.unknown_s
        if not math.isclose(states_s, total_s, rel_tol=1e-9, abs_tol=_TOLERANCE_S):
            raise ValueError(
                f"state seconds add up to {states_s:g}, not devices × window = {total_s:g}"
            )
        expected_planned = total_s - self.planned_stop_s - self.unknown_s
        if not math.isclose(self.planned_s, expected_planned, rel_tol=1e-9, abs_tol=_TOLERANCE_S):
            raise ValueError(
                f"planned_s is {self.planned_s:g}, not window − planned_stop − unknown = "
                f"{expected_planned:g}"
            )
        return self

    @property
    def key(self) -> str:
        return f"{self.level}:{self.entity_id}:{format_ts(self.window_start)}"


class DigitizationWindow(BaseModel):
    """Digitization of one enterprise in one window (default 1 h); docs/kpi.md defines it.

    A project-defined proxy, not the official 两化融合 index. Components are null when their
    denominator is zero.
    """

    model_config = MODEL_CONFIG

    v: Literal[1] = 1
    enterprise_id: EntityId
    window_start: EventTime
    window_end: EventTime
    revision: Count

    devices_registered: Count
    devices_reporting: Count
    samples_received: Count
    samples_expected: Seconds = Field(description="Σ over devices of window / sample interval.")
    key_process_devices: Count
    key_process_nc_reporting: Count = Field(
        description="Key-process devices that are numerically controlled and reporting."
    )
    devices_with_oee: Count
    cloud: bool

    connectivity: Ratio | None = Field(description="设备联网率: reporting / registered.")
    completeness: Ratio | None = Field(description="Samples received / expected, at most 1.")
    key_process_nc: Ratio | None = Field(description="关键工序数控化率, telemetry-verified.")
    oee_coverage: Ratio | None = Field(description="Devices with a non-null OEE / devices.")
    index: Annotated[float, Field(ge=0, le=100)] = Field(
        description="100 × weighted sum of the components (a null component counts as 0)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DigitizationWindow:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if self.devices_reporting > self.devices_registered:
            raise ValueError("devices_reporting must not exceed devices_registered")
        if self.key_process_nc_reporting > self.key_process_devices:
            raise ValueError("key_process_nc_reporting must not exceed key_process_devices")
        return self

    @property
    def key(self) -> str:
        return f"{self.enterprise_id}:{format_ts(self.window_start)}"


AlarmKind = Literal["down_too_long", "offline", "oee_low", "performance_suspect", "counter_reset"]


class Alarm(BaseModel):
    """One edge of an alarm episode: `raised` once, then `cleared` once. Keyed by device_id."""

    model_config = MODEL_CONFIG

    v: Literal[1] = 1
    device_id: EntityId
    kind: AlarmKind
    status: Literal["raised", "cleared"]
    ts: EventTime = Field(description="Event time of this edge.")
    raised_at: EventTime = Field(description="When the episode began; identifies it.")
    value: float | None = Field(None, description="The value that crossed the threshold.")
    threshold: float | None = None
    message: Name

    @model_validator(mode="after")
    def _edge_after_start(self) -> Alarm:
        if self.ts < self.raised_at:
            raise ValueError("ts must not be before raised_at")
        return self


# What a dead letter keeps of the refused value: enough to read and fix a bad record, while
# the whole letter (payload ×6 at worst once JSON-escaped, key, reason) stays < 64 KiB.
PAYLOAD_KEPT_BYTES = 4 * 1024
PAYLOAD_KEPT_B64 = 4 * -(-PAYLOAD_KEPT_BYTES // 3)  # base64 characters of that many bytes


class DeadLetter(BaseModel):
    """A message a stage could not take, with why and where it came from.

    The payload's first `PAYLOAD_KEPT_BYTES` are kept as text when the value is UTF-8, else
    base64; `payload_bytes` and `payload_sha256` describe the whole value.
    """

    model_config = MODEL_CONFIG

    v: Literal[1] = 1
    stage: EntityId = Field(description="Who rejected it: producer, streams.ingest, sink, ….")
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = Field(
        description="Machine-readable reason: invalid_json, invalid_field, future_ts, …"
    )
    reason: Annotated[str, Field(min_length=1, max_length=2_000)] = Field(
        description="One line for a person: which field and why."
    )
    topic: Name | None = Field(None, description="Source topic, without the prefix.")
    partition: Count | None = None
    offset: Count | None = None
    sample_index: Count = Field(
        0,
        description="Which sample of a batch record was refused, from 0; 0 also for a"
        " record refused whole.",
    )
    key: Annotated[str, Field(max_length=1_000)] | None = None
    timestamp_ms: Count | None = Field(None, description="The source record's timestamp.")
    payload: Annotated[str, Field(max_length=PAYLOAD_KEPT_BYTES)] | None = Field(
        None, description="The original value's first bytes, if the value was UTF-8."
    )
    payload_b64: Annotated[str, Field(max_length=PAYLOAD_KEPT_B64)] | None = Field(
        None, description="The original value's first bytes, if it was not."
    )
    payload_bytes: Count | None = Field(None, description="The original value's full size.")
    payload_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="sha256 of the whole original value, hex."
    )
