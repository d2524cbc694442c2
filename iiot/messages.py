"""What devices send: `Sample` or `SampleBatch` on `iiot.telemetry`, `DeviceBirth` on
`iiot.registry`; and `Reading`, a sample as an integrator hands it to the Publisher."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from iiot.shifts import PlantShifts
from iiot.types import (
    MAX_BATCH_BYTES,
    MAX_BATCH_SAMPLES,
    MAX_METRICS,
    MODEL_CONFIG,
    Count,
    DeviceTime,
    EntityId,
    MetricName,
    Name,
    ReasonCode,
    State,
)

CycleSeconds = Annotated[float, Field(gt=0, le=86_400)]
_SEQ = (
    "Rises by one per sample of the device, never restarts; (device_id, seq) identifies a sample."
)


class BatchedSample(BaseModel):
    """One sample of a `SampleBatch`: a `Sample` without `v` and `device_id`, which the batch
    gives once (docs/contract.md, "Batch records")."""

    model_config = MODEL_CONFIG

    ts: DeviceTime = Field(
        description="Event time, UTC, millisecond resolution, in the years 1970–2199."
    )
    seq: Count = Field(description=_SEQ)
    state: State = Field(description="Equipment state from this ts until the next sample.")
    count_total: Count = Field(description="Monotonic counter of parts made (a drop = reset).")
    count_good: Count = Field(description="Monotonic counter of good parts, ≤ count_total.")
    ideal_cycle_s: CycleSeconds | None = Field(
        None, description="Ideal seconds per part; if absent the registry's value is used."
    )
    product: Name | None = Field(None, description="Product or article being made.")
    reason: ReasonCode | None = Field(
        None,
        description="Why the device is not running (down, idle, setup, planned_stop): a "
        "snake_case code such as breakdown, changeover, micro_stop, no_material; absent "
        "while running or when the cause is unknown.",
    )
    metrics: dict[MetricName, float] = Field(
        default_factory=dict,
        max_length=MAX_METRICS,
        description="Process values by name (snake_case, unit as suffix: power_kw).",
    )

    @field_validator("count_good")
    @classmethod
    def _good_within_total(cls, count_good: int, info: ValidationInfo) -> int:
        count_total = info.data.get("count_total")  # absent if it failed validation itself
        if count_total is not None and count_good > count_total:
            raise ValueError(f"must not exceed count_total ({count_total})")
        return count_good


class _OfDevice(BaseModel):
    """What a message says of itself first: its version and its device."""

    model_config = MODEL_CONFIG

    v: Literal[1] = Field(1, description="Schema version.")
    device_id: EntityId = Field(description="The device, as announced in its DeviceBirth.")


class Reading(BatchedSample, _OfDevice):  # fields in this order: v, device_id, ts, seq, …
    """What an integrator sends; the Publisher numbers it: a `Sample` whose `seq` may be
    absent (docs/contract.md, "Reading"; `Publisher.publish_reading`)."""

    seq: Count | None = Field(  # type: ignore[assignment]
        None, description="The device's own seq, kept; if absent the Publisher gives the next."
    )

    def numbered(self, seq: int) -> Sample:
        """This reading as the Sample it is with `seq` (0 … 2^63 − 1), without validating it
        again: every other field was validated as a Sample's (a copy, as `model_copy` makes)."""
        state = self.__getstate__()
        state["__dict__"] = {**state["__dict__"], "seq": seq}
        state["__pydantic_fields_set__"] = {*state["__pydantic_fields_set__"], "seq"}
        sample = Sample.__new__(Sample)
        sample.__setstate__(state)
        return sample


class Sample(Reading):  # a Reading with its seq: the same fields, in the same order
    """One reading of one device (docs/contract.md, "Sample")."""

    seq: Count = Field(description=_SEQ)


class SampleBatch(_OfDevice):
    """Consecutive samples of one device in one `iiot.telemetry` record, keyed by device_id
    (docs/contract.md, "Batch records"). Each sample is checked, deduplicated and, if bad,
    dead-lettered on its own; `iiot/wire/sample_batch.py` reads and writes it fast."""

    max_bytes: ClassVar[int] = MAX_BATCH_BYTES

    samples: list[BatchedSample] = Field(
        min_length=1,
        max_length=MAX_BATCH_SAMPLES,
        description="The samples, in the order the device made them (seq rising).",
    )


class Enterprise(BaseModel):
    """The enterprise a device belongs to, as its registry entry names it."""

    model_config = MODEL_CONFIG

    id: EntityId
    name: Name = Field(description="Display name, e.g. 海尔智家 Qingdao.")
    city: EntityId = Field(description="City id, lower case pinyin: jinan, qingdao, ….")
    industry: Name = Field(description="e.g. smart appliances, electronic components.")
    cloud: bool = Field(description="Has the enterprise moved to the cloud (企业上云)?")


class DeviceBirth(BaseModel):
    """A device announcing itself on the compacted `iiot.registry` topic, keyed by device_id."""

    model_config = MODEL_CONFIG

    v: Literal[1] = 1
    device_id: EntityId
    enterprise: Enterprise
    plant_id: EntityId
    line_id: EntityId
    kind: EntityId = Field(description="Equipment kind, e.g. cnc_machining_centre, smt_placement.")
    key_process: bool = Field(description="Does the device run a key process (关键工序)?")
    numerically_controlled: bool = Field(description="Is it numerically controlled (数控)?")
    sample_interval_s: Annotated[float, Field(gt=0, le=3_600)] = Field(
        description="Seconds between samples; max_gap = 3 × this."
    )
    ideal_cycle_s: CycleSeconds = Field(description="Default ideal seconds per part.")
    shift_calendar: PlantShifts | None = Field(
        None,
        description="The plant's shifts (班次), optional: the sink keeps the latest per plant "
        '(docs/contract.md, "Shift calendar").',
    )

    @model_serializer(mode="wrap")
    def _without_absent_calendar(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A birth without a calendar is written as before calendars existed: no null."""
        fields: dict[str, Any] = handler(self)
        if fields.get("shift_calendar", ...) is None:
            del fields["shift_calendar"]
        return fields
