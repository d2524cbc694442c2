"""Shift calendars: when a plant plans not to produce (breaks, nights without orders).

Shifts are in China Standard Time (UTC+8, no daylight saving), so a Qingdao lunch break
falls at local noon whatever the simulated start time.
"""

from __future__ import annotations

from bisect import bisect_right

from iiot.shifts import PlantShifts, Shift

DAY_S = 86_400
CST_OFFSET_S = 8 * 3_600
HOUR = 3_600
MIN = 60
STARTS_H = (6, 14, 22)
# What the plants call their shifts (docs/contract.md, "Shift calendar").
SHIFT_NAMES = (("early", "早班"), ("middle", "中班"), ("night", "夜班"))
TIME_ZONE = "Asia/Shanghai"  # China Standard Time: UTC+8 all year


def _breaks(shift_start_s: int) -> list[tuple[int, int]]:
    """An 8-hour shift's planned stops: a 10-min break at +2 h and +6 h, a 30-min meal at +4 h."""
    s = shift_start_s
    return [
        (s + 2 * HOUR, s + 2 * HOUR + 10 * MIN),
        (s + 4 * HOUR, s + 4 * HOUR + 30 * MIN),
        (s + 6 * HOUR, s + 6 * HOUR + 10 * MIN),
    ]


class ShiftCalendar:
    """Planned stops of one plant as a day-periodic list of [start, end) local seconds."""

    __slots__ = ("_edges", "shifts", "stops")

    def __init__(self, shifts: int) -> None:
        if shifts not in (2, 3):
            raise ValueError(f"shifts must be 2 or 3, not {shifts}")
        self.shifts = shifts
        # Shifts start at 06:00, 14:00 and 22:00; with two shifts 22:00–06:00 has no orders.
        stops = [b for start in STARTS_H[:shifts] for b in _breaks(start * HOUR)]
        if shifts == 2:
            stops.append((22 * HOUR, 30 * HOUR))
        # Fold into one day [0, DAY_S): the night shift and the night stop cross midnight.
        folded: list[tuple[int, int]] = []
        for start, end in stops:
            start, end = start % DAY_S, end % DAY_S or DAY_S
            if end < start:
                folded += [(start, DAY_S), (0, end)]
            else:
                folded.append((start, end))
        self.stops = tuple(sorted(folded))
        self._edges = [edge for stop in self.stops for edge in stop]

    def planned_s_per_day(self) -> int:
        return sum(end - start for start, end in self.stops)

    def at(self, t_ms: int) -> tuple[bool, int]:
        """Is `t_ms` in a planned stop, and when (ms) does that answer next change?"""
        t_s = t_ms // 1000 + CST_OFFSET_S
        day_start = t_s - t_s % DAY_S
        local = t_s - day_start
        i = bisect_right(self._edges, local)
        planned = i % 2 == 1  # edges alternate stop-start, stop-end
        # Past the last edge the answer next changes at the first edge of the next day.
        next_local = self._edges[i] if i < len(self._edges) else DAY_S + self._edges[0]
        next_ms = (day_start + next_local - CST_OFFSET_S) * 1000
        return planned, next_ms

    def published(self) -> PlantShifts:
        """The calendar as the plant's births carry it: its 8-hour shifts, by local clock."""
        return PlantShifts(
            time_zone=TIME_ZONE,
            shifts=[
                Shift(id=id_, name=name, start=f"{start:02d}:00", end=f"{(start + 8) % 24:02d}:00")
                for (id_, name), start in zip(SHIFT_NAMES, STARTS_H[: self.shifts], strict=False)
            ],
        )
