"""Field types shared by every message: ids, times, finite numbers.

Models are strict (no "5" for 5, no 5.0 for a counter) and forbid unknown fields, so a typo
in an integrator's mapping fails loudly at the edge instead of silently zeroing a KPI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, PlainSerializer

SCHEMA_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
# A batch record (iiot.messages.SampleBatch): far below Kafka's 1 MiB record limit.
MAX_BATCH_BYTES = 512 * 1024
MAX_BATCH_SAMPLES = 5_000
MAX_METRICS = 64
# The largest whole number anywhere in a message or a window's parts: PostgreSQL's bigint
# (int8), the column counters, seqs and counts land in. orjson writes and reads it too, and
# a signed 64-bit PLC counter fits (docs/contract.md, "Numbers").
MAX_INT = 2**63 - 1

# Ids end up in Kafka keys of the form `level:entity_id:window_start`, so no colons.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

State = Literal["running", "idle", "setup", "down", "planned_stop"]
STATES: tuple[State, ...] = ("running", "idle", "setup", "down", "planned_stop")
Level = Literal["device", "line", "plant", "enterprise", "city", "province"]
LEVELS: tuple[Level, ...] = ("device", "line", "plant", "enterprise", "city", "province")

MODEL_CONFIG = ConfigDict(
    strict=True,
    extra="forbid",
    frozen=True,
    allow_inf_nan=False,
    str_strip_whitespace=False,
)


def _to_utc_ms(ts: datetime) -> datetime:
    """Event times are UTC with millisecond resolution, as Kafka timestamps are."""
    ts = ts.astimezone(UTC)
    return ts.replace(microsecond=ts.microsecond - ts.microsecond % 1000)


def format_ts(ts: datetime) -> str:
    """`2026-11-26T08:00:05.000Z`: the one spelling of a time on the wire."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


EventTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc_ms),
    PlainSerializer(format_ts, return_type=str, when_used="json"),
]
# A device's clock may be wrong, but only within years every derived time can hold: window
# ends, partition bounds and Kafka timestamps of 9999-12-31 overflow (year 10000), and a
# time before 1970 is no Kafka timestamp. Checked as the wire spells it (a 4-digit year).
FIRST_YEAR, END_YEAR = 1970, 2200


def _within_years(ts: datetime) -> datetime:
    if not FIRST_YEAR <= ts.year < END_YEAR:
        raise ValueError(
            f"must lie in the years {FIRST_YEAR}–{END_YEAR - 1} (UTC): is the device clock set?"
        )
    return ts


# The time a device stamps on a sample: an event time within the years above.
DeviceTime = Annotated[EventTime, AfterValidator(_within_years)]
EntityId = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=128)]
MetricName = Annotated[str, Field(pattern=METRIC_PATTERN)]
# Why a device is not running (Sample.reason): a snake_case code spelt like a metric name.
# Any such code is accepted; these are the conventional ones (docs/contract.md, "Reasons").
ReasonCode = Annotated[str, Field(pattern=METRIC_PATTERN)]
REASON_CODES = (
    "breakdown",
    "tool_change",
    "changeover",
    "quality_check",
    "micro_stop",
    "no_material",
    "blocked",
    "no_operator",
    "planned_maintenance",
)
Name = Annotated[str, Field(min_length=1, max_length=200)]
Seconds = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Ratio = Annotated[float, Field(ge=0, le=1)]
