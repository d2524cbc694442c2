"""Device OEE windows from samples: the interval rules of docs/kpi.md as pure functions.

A sample's state holds from its `ts` to the next sample's `ts`, at most `max_gap`; the time
beyond is unknown. Counter deltas are measured at the end of an interval and belong, with
the ideal cycle time of the sample that opened it, to the window where the interval begins.

Parts are kept in integer milliseconds (time) and microseconds (ideal run time), so adding
them is exact: a roll-up gives the same numbers whatever order its devices arrive in, and
the stream and a batch recompute agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple

from iiot.kpi import oee_ratios
from iiot.messages import Sample
from iiot.results import OeeWindow
from iiot.types import MAX_INT, Level, State

STATE_FIELDS: dict[str, str] = {
    "running": "run_ms",
    "idle": "idle_ms",
    "setup": "setup_ms",
    "down": "down_ms",
    "planned_stop": "planned_stop_ms",
}


class Reading(NamedTuple):
    """The part of a sample the OEE rules use. A tuple: made and read per sample in the
    stream worker, where a frozen dataclass cost ~1 µs to build; `list(reading)` is its
    changelog row."""

    ts_ms: int
    seq: int
    state: State
    count_total: int
    count_good: int
    ideal_cycle_s: float | None = None

    @classmethod
    def of(cls, sample: Sample) -> Reading:
        return cls(
            ts_ms=to_ms(sample.ts),
            seq=sample.seq,
            state=sample.state,
            count_total=sample.count_total,
            count_good=sample.count_good,
            ideal_cycle_s=sample.ideal_cycle_s,
        )


@dataclass(slots=True)
class Parts:
    """The additive parts of one window: of one device, or summed over many."""

    window_ms: int
    devices: int = 1
    run_ms: int = 0
    idle_ms: int = 0
    setup_ms: int = 0
    down_ms: int = 0
    planned_stop_ms: int = 0
    ideal_run_us: int = 0
    count_total: int = 0
    count_good: int = 0
    samples: int = 0
    counter_resets: int = 0

    @property
    def covered_ms(self) -> int:
        return self.run_ms + self.idle_ms + self.setup_ms + self.down_ms + self.planned_stop_ms

    @property
    def unknown_ms(self) -> int:
        return self.window_ms * self.devices - self.covered_ms

    @property
    def planned_ms(self) -> int:
        return self.window_ms * self.devices - self.planned_stop_ms - self.unknown_ms

    def row(self) -> list[int]:
        """The fields in order, for the changelog: `Parts(*row)` gives it back."""
        return [self.window_ms, self.devices, self.run_ms, self.idle_ms, self.setup_ms,
                self.down_ms, self.planned_stop_ms, self.ideal_run_us, self.count_total,
                self.count_good, self.samples, self.counter_resets]  # fmt: skip

    def add(self, other: Parts) -> Parts:
        """The sum of two windows' parts (same window length), as a new Parts; each sum
        saturates at MAX_INT, as a device's do (`count_interval`), so the order of adding
        does not matter."""
        if other.window_ms != self.window_ms:
            raise ValueError("cannot add parts of windows of different length")
        mine, theirs = self.row(), other.row()
        sums = (min(a + b, MAX_INT) for a, b in zip(mine[1:], theirs[1:], strict=True))
        return Parts(self.window_ms, *sums)


PARTS_FIELDS = tuple(f.name for f in fields(Parts))


@dataclass(slots=True)
class DeviceWindows:
    """A device's windows, keyed by window start in epoch milliseconds."""

    windows: dict[int, Parts] = field(default_factory=dict)
    resets_at_ms: list[int] = field(default_factory=list)


def to_ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def window_start(ts_ms: int, window_ms: int) -> int:
    return ts_ms - ts_ms % window_ms


def counter_delta(before: int, after: int) -> int:
    """Parts counted between two readings; a counter that went down was reset."""
    return after - before if after >= before else after


def count_interval(opened: Parts, before: Reading, after: Reading, ideal_cycle_s: float) -> bool:
    """Add the parts counted from `before` to `after` to the window `before` opened; True if
    a counter was reset. `ideal_cycle_s` is the registry's, for a reading without its own.

    The sums saturate at MAX_INT (the database's bigint): a uint32 counter jumping to its
    top at an ideal cycle of a day is 3.7e20 µs, past 64 bits. Saturating is exact and
    order-free for parts that only grow, so the stream and a recompute still agree; a window
    at the bound has its performance far above 1, flagged suspect.
    """
    total = counter_delta(before.count_total, after.count_total)
    opened.count_total += total
    opened.count_good += min(counter_delta(before.count_good, after.count_good), total)
    opened.ideal_run_us += round((before.ideal_cycle_s or ideal_cycle_s) * 1_000_000) * total
    if opened.ideal_run_us > MAX_INT or opened.count_total > MAX_INT:  # good ≤ total
        opened.count_total = min(opened.count_total, MAX_INT)
        opened.count_good = min(opened.count_good, MAX_INT)
        opened.ideal_run_us = min(opened.ideal_run_us, MAX_INT)
    if after.count_total < before.count_total or after.count_good < before.count_good:
        opened.counter_resets += 1
        return True
    return False


def ordered(readings: Iterable[Reading]) -> list[Reading]:
    """By event time, duplicates by seq dropped (the first one kept)."""
    seen: set[int] = set()
    unique = []
    for reading in readings:
        if reading.seq not in seen:
            seen.add(reading.seq)
            unique.append(reading)
    return sorted(unique, key=lambda r: (r.ts_ms, r.seq))


# A silent device's gap gets windows of unknown time, at most this many: those just before
# the sample that ends it (an hour of 1-min windows). A device back after a year must not
# make half a million windows; the hour before it returns is what roll-ups still hold.
MAX_GAP_WINDOWS = 60


def gap_windows(before_ms: int, after_ms: int, window_ms: int, max_gap_windows: int) -> range:
    """The window starts between two consecutive readings that must exist though no
    interval may reach them: after `before_ms`'s window, before `after_ms`'s, at most
    `max_gap_windows` of them, the last ones."""
    first = window_start(before_ms, window_ms) + window_ms
    end = window_start(after_ms, window_ms)
    return range(max(first, end - max_gap_windows * window_ms), end, window_ms)


def device_windows(
    readings: Sequence[Reading],
    *,
    window_ms: int,
    max_gap_ms: int,
    ideal_cycle_s: float,
    max_gap_windows: int = MAX_GAP_WINDOWS,
) -> DeviceWindows:
    """Split one device's readings (in `ordered` order) into window parts.

    `ideal_cycle_s` is the registry's default for readings that carry none. The last
    reading's state holds for `max_gap_ms`, as sample-and-hold says; a later reading
    corrects that. Windows between two readings that no interval reaches exist, all their
    time unknown (`gap_windows`).
    """
    result = DeviceWindows()

    def parts_of(ts_ms: int) -> Parts:
        start = window_start(ts_ms, window_ms)
        parts = result.windows.get(start)
        if parts is None:
            parts = result.windows[start] = Parts(window_ms)
        return parts

    for i, reading in enumerate(readings):
        opened = parts_of(reading.ts_ms)
        opened.samples += 1
        nxt = readings[i + 1] if i + 1 < len(readings) else None
        end_ms = reading.ts_ms + max_gap_ms
        if nxt is not None:
            end_ms = min(end_ms, nxt.ts_ms)
            if count_interval(opened, reading, nxt, ideal_cycle_s):
                result.resets_at_ms.append(nxt.ts_ms)
            for start in gap_windows(reading.ts_ms, nxt.ts_ms, window_ms, max_gap_windows):
                parts_of(start)
        # The state's time, split at window edges.
        state_field = STATE_FIELDS[reading.state]
        start_ms = reading.ts_ms
        while start_ms < end_ms:
            edge = window_start(start_ms, window_ms) + window_ms
            piece_end = min(edge, end_ms)
            parts = parts_of(start_ms)
            setattr(parts, state_field, getattr(parts, state_field) + piece_end - start_ms)
            start_ms = piece_end
    return result


def roll_up(parts: Iterable[Parts]) -> Parts | None:
    """Add the parts of many windows (never average their ratios)."""
    total: Parts | None = None
    for p in parts:
        total = p if total is None else total.add(p)
    return total


def oee_window(
    level: Level,
    entity_id: str,
    start_ms: int,
    parts: Parts,
    *,
    revision: int = 0,
    late_samples: int = 0,
) -> OeeWindow:
    """The `OeeWindow` message of a window's parts, with its ratios."""
    return OeeWindow(
        level=level,
        entity_id=entity_id,
        window_start=from_ms(start_ms),
        window_end=from_ms(start_ms + parts.window_ms),
        **window_numbers(parts, revision, late_samples),
    )


def window_numbers(p: Parts, revision: int, late_samples: int) -> dict[str, Any]:
    """An `OeeWindow`'s fields from `revision` on, in the model's order (also what
    `iiot.wire.oee_json` writes without the model)."""
    planned_s = p.planned_ms / 1000
    run_s = p.run_ms / 1000
    ideal_run_s = p.ideal_run_us / 1_000_000
    ratios = oee_ratios(planned_s, run_s, ideal_run_s, p.count_total, p.count_good)
    return {
        "revision": revision, "devices": p.devices, "samples": p.samples,
        "late_samples": late_samples, "run_s": run_s, "idle_s": p.idle_ms / 1000,
        "setup_s": p.setup_ms / 1000, "down_s": p.down_ms / 1000,
        "planned_stop_s": p.planned_stop_ms / 1000, "unknown_s": p.unknown_ms / 1000,
        "planned_s": planned_s, "ideal_run_s": ideal_run_s, "count_total": p.count_total,
        "count_good": p.count_good, "availability": ratios.availability,
        "performance": ratios.performance, "quality": ratios.quality, "oee": ratios.oee,
        "performance_suspect": ratios.performance_suspect,
    }  # fmt: skip
