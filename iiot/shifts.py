"""A plant's shift calendar (班次): the shifts operators work, in the plant's local time.

Carried, optionally, by a DeviceBirth (`shift_calendar`, docs/contract.md, "Shift calendar"):
the sink keeps the latest per plant and `v_plant_shift` lists it (docs/schema.md). One shift
instance on local date D runs from D + start to the next time `end` comes round, so a shift
whose end is not after its start crosses midnight (夜班 22:00–06:00).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from iiot.types import METRIC_PATTERN, MODEL_CONFIG, Name

DAY_MIN = 24 * 60
DEFAULT_TIME_ZONE = "Asia/Shanghai"
MAX_SHIFTS = 8
# A time of day on the wire: "06:00", "22:30" (24-hour clock, minutes).
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def minute_of(clock: str) -> int:
    """'22:30' → 1350, minutes after local midnight."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class Shift(BaseModel):
    """One shift of a plant's day."""

    model_config = MODEL_CONFIG

    id: Annotated[str, Field(pattern=METRIC_PATTERN)] = Field(
        description="snake_case ascii, stable: early, middle, night."
    )
    name: Name = Field(description="Display name, may be Chinese: 早班, 中班, 夜班.")
    start: ClockTime = Field(description="Local start, HH:MM.")
    end: ClockTime = Field(
        description="Local end, HH:MM; not after start = the shift crosses midnight "
        "(equal to start = 24 hours)."
    )

    def minutes(self) -> int:
        """How long the shift runs: 1 to 1440 minutes."""
        return (minute_of(self.end) - minute_of(self.start)) % DAY_MIN or DAY_MIN


class PlantShifts(BaseModel):
    """A plant's shifts and the time zone their clock times are in."""

    model_config = MODEL_CONFIG

    time_zone: str = Field(
        DEFAULT_TIME_ZONE, description="IANA time zone of the plant: Asia/Shanghai."
    )
    shifts: list[Shift] = Field(
        min_length=1, max_length=MAX_SHIFTS, description="The shifts, in any order."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as Asia/Shanghai") from None
        return name

    @field_validator("shifts")
    @classmethod
    def _one_day_without_overlap(cls, shifts: list[Shift]) -> list[Shift]:
        ids = [s.id for s in shifts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"shift ids must differ (got {', '.join(ids)})")
        total = sum(s.minutes() for s in shifts)
        if total > DAY_MIN:
            raise ValueError(f"the shifts add up to {total} minutes, more than a day")
        overlap = _first_overlap(shifts)
        if overlap:
            raise ValueError(f"shifts {overlap[0]} and {overlap[1]} overlap")
        return shifts


def _first_overlap(shifts: list[Shift]) -> tuple[str, str] | None:
    """Two shifts sharing a minute of the (circular) day, or None. A day has 1440 minutes
    and a plant a handful of shifts: marking minutes is simplest and exact."""
    owner: dict[int, str] = {}
    for shift in shifts:
        first = minute_of(shift.start)
        for minute in range(first, first + shift.minutes()):
            taken = owner.setdefault(minute % DAY_MIN, shift.id)
            if taken != shift.id:
                return taken, shift.id
    return None
