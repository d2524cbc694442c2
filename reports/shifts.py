"""Which time a shift report covers: a shift instance of a plant (v_plant_shift) or an
explicit range.

A shift instance on local date D runs from D + `starts` in the plant's time zone until
`ends` next comes round: the same day, or the next when `ends <= starts` (a night shift)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg


@dataclass(frozen=True)
class Shift:
    """What the report's header says and the range it reads ([start, end), UTC)."""

    plant_id: str
    name: str | None
    start: datetime
    end: datetime
    time_zone: str = "UTC"


@dataclass(frozen=True)
class PlantShift:
    """A row of v_plant_shift."""

    shift_id: str
    shift_name: str
    starts: time
    ends: time
    time_zone: str

    def on(self, day: date) -> tuple[datetime, datetime]:
        """The instance that starts on local date `day`, in UTC."""
        zone = ZoneInfo(self.time_zone)
        ends_on = day if self.ends > self.starts else day + timedelta(days=1)
        start = datetime.combine(day, self.starts, zone)
        end = datetime.combine(ends_on, self.ends, zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def label(self, day: date) -> str:
        """ "2026-12-05 夜班 (night)": the name operators use, the id `--shift` takes too."""
        same = self.shift_name == self.shift_id
        return f"{day.isoformat()} {self.shift_name}" + ("" if same else f" ({self.shift_id})")


class ShiftError(ValueError):
    """No such plant, shift or date: the message lists what exists."""


def plant_shifts(conn: psycopg.Connection, plant_id: str) -> list[PlantShift]:
    rows = conn.execute(
        "SELECT shift_id, shift_name, starts, ends, time_zone FROM v_plant_shift "
        "WHERE plant_id = %s ORDER BY starts, shift_id",
        (plant_id,),
    ).fetchall()
    return [PlantShift(*row) for row in rows]


def last_completed(shifts: Sequence[PlantShift], now: datetime) -> tuple[PlantShift, date]:
    """The shift instance that ended last at or before `now` (of the shifts given)."""
    best: tuple[datetime, PlantShift, date] | None = None
    for shift in shifts:
        today = now.astimezone(ZoneInfo(shift.time_zone)).date()
        for back in range(0, 3):  # a shift may have started the day before yesterday, locally
            day = today - timedelta(days=back)
            end = shift.on(day)[1]
            if end <= now and (best is None or end > best[0]):
                best = (end, shift, day)
    if best is None:
        raise ShiftError("the plant has no shifts")
    return best[1], best[2]


def choose(plant_id: str, shifts: Sequence[PlantShift], spec: str | None, now: datetime) -> Shift:
    """`spec` is DATE/SHIFT (local date, shift name or id), SHIFT (its last completed
    instance) or None (the plant's last completed shift)."""
    if not shifts:
        raise ShiftError(
            f"plant {plant_id} has no shift calendar (v_plant_shift); give --from and --to"
        )
    day: date | None = None
    chosen = list(shifts)
    if spec is not None:
        day_text, slash, name = spec.rpartition("/")
        if slash:
            try:
                day = date.fromisoformat(day_text)
            except ValueError:
                raise ShiftError(
                    f"{day_text!r} is no date (YYYY-MM-DD) in --shift {spec}"
                ) from None
        chosen = [s for s in shifts if name in (s.shift_name, s.shift_id)]
        if not chosen:
            known = ", ".join(
                f"{s.shift_id} ({s.shift_name}, {s.starts:%H:%M}–{s.ends:%H:%M})" for s in shifts
            )
            raise ShiftError(f"plant {plant_id} has no shift {name!r}; its shifts: {known}")
    shift, day = (chosen[0], day) if day is not None else last_completed(chosen, now)
    start, end = shift.on(day)
    return Shift(plant_id, shift.label(day), start, end, shift.time_zone)
