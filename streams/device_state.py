"""The state a stream worker keeps for one device, and how a sample changes it.

Pure Python, no Faust: the worker stores it in a changelogged table, tests drive it
directly. Windows are recomputed with `iiot.oee.device_windows` over the readings kept,
so the stream gives exactly what a batch recompute over the same accepted samples gives.

Lateness is measured per device, against the newest event time of that device: the
result then depends only on the device's own sample order (which Kafka keeps, one key
per partition), not on how devices interleave or how many workers share the partitions.
"""

from __future__ import annotations

import bisect
import operator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import orjson

from iiot.oee import (
    MAX_GAP_WINDOWS,
    STATE_FIELDS,
    Parts,
    Reading,
    count_interval,
    device_windows,
    gap_windows,
    window_start,
)

# A reading's step from the one before, in the changelog (`_step`).
Step = tuple[int, int, int, int, int, float | None]

# Distinct seqs remembered above the low-water mark, at most: holes past it are given up
# (docs/kpi.md, "Duplicates"). Usually the readings kept bound it well below.
_SEEN_CAP = 64


class Outcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """What the registry says about a device, as the OEE rules need it."""

    window_ms: int
    max_gap_ms: int
    grace_ms: int
    ideal_cycle_s: float
    max_gap_windows: int = MAX_GAP_WINDOWS


@dataclass(slots=True)
class Emitted:
    """A device window as last computed: its parts and its revision."""

    parts: Parts
    revision: int
    late_samples: int = 0


@dataclass(slots=True)
class DeviceState:
    readings: list[Reading] = field(default_factory=list)
    windows: dict[int, Emitted] = field(default_factory=dict)
    newest_ms: int | None = None
    # Seqs seen: every one ≤ `seen_upto` (or given up on: seen, or a hole no longer worth
    # remembering), and those in `seen` above it. Exact where it matters: a seq at or below
    # the mark whose reading could still change a window is looked up in `readings`.
    seen_upto: int = -1
    seen: set[int] = field(default_factory=set)
    late_samples: int = 0
    # Not state, what saves work; kept out of equality and the changelog. The readings'
    # changelog text, one piece per reading (`_encoded`; None: made again when written)...
    pieces: list[bytes] | None = field(default=None, compare=False, repr=False)
    # ...and the last reading's difference to the one before it (`_step`).
    last_step: Step | None = field(default=None, compare=False, repr=False)
    # No window can become final while the horizon (newest − grace) is at most this, with
    # this config (a new birth may change max_gap: then it is looked at again).
    quiet_until_ms: int = field(default=-(2**63), compare=False, repr=False)
    quiet_for: DeviceConfig | None = field(default=None, compare=False, repr=False)

    # --- duplicates ----------------------------------------------------------------------

    def _is_duplicate(self, reading: Reading, grace_ms: int) -> bool:
        """Seen before? Called for a seq at or below the mark, or in `seen`."""
        seq = reading.seq
        if seq > self.seen_upto or self.newest_ms is None:
            return True  # in `seen`: exactly remembered
        if reading.ts_ms < self.newest_ms - grace_ms:
            # Late either way, not applied either way: counted as a duplicate, which a
            # re-sent sample is; a skipped seq that comes this late is the rare exception.
            return True
        # Recent: every accepted reading this recent is still kept.
        return any(kept[1] == seq for kept in self.readings)

    def _remember(self, seq: int) -> None:
        self.seen.add(seq)
        self._advance(self.seen_upto)
        if len(self.seen) > _SEEN_CAP:  # many holes: give up the older half at once
            self._advance(sorted(self.seen)[-(_SEEN_CAP // 2) - 1])

    def _advance(self, upto: int) -> None:
        """Move the mark to at least `upto`, then over every seq seen right after it."""
        if upto > self.seen_upto:
            self.seen_upto = upto
            self.seen = {s for s in self.seen if s > upto}
        while self.seen_upto + 1 in self.seen:
            self.seen_upto += 1
            self.seen.discard(self.seen_upto)

    # --- samples -------------------------------------------------------------------------

    def accept(
        self, reading: Reading, config: DeviceConfig
    ) -> tuple[Outcome, list[int], dict[int, Emitted]]:
        """Apply one reading.

        Returns what became of it, the windows that changed, and the windows that became
        final and were dropped, with their last value: emit those now, they are gone.
        """
        seq = reading.seq
        if seq == self.seen_upto + 1 and not self.seen:
            self.seen_upto = seq  # the usual case, in one step
        elif seq <= self.seen_upto or seq in self.seen:
            if self._is_duplicate(reading, config.grace_ms):
                return Outcome.DUPLICATE, [], {}
        else:
            self._remember(seq)
        ts_ms, newest = reading.ts_ms, self.newest_ms
        if newest is not None and ts_ms < newest - config.grace_ms:
            self.late_samples += 1
            start = window_start(ts_ms, config.window_ms)
            if start in self.windows:
                self.windows[start].late_samples += 1
                self.windows[start].revision += 1
                return Outcome.LATE, [start], {}
            return Outcome.LATE, [], {}

        readings = self.readings
        last = readings[-1] if readings else None
        if last is not None and (ts_ms > last.ts_ms or (ts_ms == last.ts_ms and seq >= last.seq)):
            changed = self._append(last, reading, config)  # the usual case: in order
        else:
            keys = [(r.ts_ms, r.seq) for r in readings]
            at = bisect.bisect(keys, (ts_ms, seq))
            readings.insert(at, reading)
            self.pieces = self.last_step = None  # written whole next time: rare
            # The reading before the new one changes too: its interval ends and its counter
            # delta is measured at the new reading.
            first_changed = readings[max(at - 1, 0)].ts_ms
            changed = self._recompute(window_start(first_changed, config.window_ms), config)
        if newest is None or ts_ms > newest:
            self.newest_ms = newest = ts_ms
        if newest - config.grace_ms <= self.quiet_until_ms and config is self.quiet_for:
            return Outcome.ACCEPTED, changed, {}  # the usual case: nothing can be final
        return Outcome.ACCEPTED, changed, self._forget_final(config)

    def _append(self, last: Reading, new: Reading, config: DeviceConfig) -> list[int]:
        """A reading after all others: update the windows in place instead of recomputing.

        The same rules as `device_windows`, as differences: the last reading's hold is cut
        at the new one, its counter delta is now measured, and the new reading holds. The
        sums are integers, so the result is exactly what a recompute gives (the property
        test in tests/unit/streams/test_device_state.py checks it).
        """
        window_ms, max_gap_ms = config.window_ms, config.max_gap_ms
        start = last.ts_ms - last.ts_ms % window_ms
        emitted = self.windows.get(start)
        if emitted is not None and new.ts_ms + max_gap_ms < start + window_ms:
            # The usual case: both holds and the counts in the last reading's window, which
            # exists; the same sums as below, without splitting at window edges.
            parts = emitted.parts
            hold_end = last.ts_ms + max_gap_ms
            if new.ts_ms < hold_end:
                _add_state_ms(parts, last.state, new.ts_ms - hold_end)
            count_interval(parts, last, new, config.ideal_cycle_s)
            parts.samples += 1
            _add_state_ms(parts, new.state, max_gap_ms)
            self._appended(last, new)
            emitted.revision += 1
            return [start]
        touched: dict[int, bool] = {}  # window start → created now
        hold_end = last.ts_ms + config.max_gap_ms
        cut = min(new.ts_ms, hold_end)
        self._add_time(last.state, cut, hold_end, -1, config, touched)
        count_interval(self._window(last.ts_ms, config, touched), last, new, config.ideal_cycle_s)
        if new.ts_ms - last.ts_ms > config.window_ms:  # else no window lies between them
            gap = gap_windows(last.ts_ms, new.ts_ms, config.window_ms, config.max_gap_windows)
            for start in gap:
                self._window(start, config, touched)  # a silent gap: its windows, unknown
        self._window(new.ts_ms, config, touched).samples += 1
        self._add_time(new.state, new.ts_ms, new.ts_ms + config.max_gap_ms, 1, config, touched)
        self._appended(last, new)
        for start, created in touched.items():
            if not created:
                self.windows[start].revision += 1
        return sorted(touched)

    def _appended(self, last: Reading, new: Reading) -> None:
        """`new` goes after `last`, the last reading: kept, and its changelog piece made."""
        self.readings.append(new)
        pieces = self.pieces
        if pieces is None:
            return  # made whole when written
        step = _step(last, new)
        pieces.append(b"0" if step == self.last_step and len(pieces) > 1 else orjson.dumps(step))
        self.last_step = step

    def _window(self, ts_ms: int, config: DeviceConfig, touched: dict[int, bool]) -> Parts:
        start = window_start(ts_ms, config.window_ms)
        emitted = self.windows.get(start)
        if emitted is None:
            emitted = self.windows[start] = Emitted(Parts(config.window_ms), 0)
            touched[start] = True
        else:
            touched.setdefault(start, False)
        return emitted.parts

    def _add_time(
        self, state: str, start_ms: int, end_ms: int, sign: int, config: DeviceConfig,
        touched: dict[int, bool],
    ) -> None:  # fmt: skip
        """Add (or take away) a state's time over [start, end), split at window edges."""
        name = STATE_FIELDS[state]
        while start_ms < end_ms:
            piece_end = min(window_start(start_ms, config.window_ms) + config.window_ms, end_ms)
            parts = self._window(start_ms, config, touched)
            setattr(parts, name, getattr(parts, name) + sign * (piece_end - start_ms))
            start_ms = piece_end

    def _recompute(self, from_start: int, config: DeviceConfig) -> list[int]:
        """Recompute windows from `from_start` on; returns those whose parts changed."""
        lo = bisect.bisect_left([r.ts_ms for r in self.readings], from_start - config.max_gap_ms)
        fresh = device_windows(
            self.readings[lo:],
            window_ms=config.window_ms,
            max_gap_ms=config.max_gap_ms,
            ideal_cycle_s=config.ideal_cycle_s,
            max_gap_windows=config.max_gap_windows,
        ).windows
        changed = []
        for start, parts in fresh.items():
            if start < from_start:
                continue  # only partly seen from this slice; it did not change
            old = self.windows.get(start)
            if old is None:
                self.windows[start] = Emitted(parts, 0)
                changed.append(start)
            elif old.parts != parts:
                old.parts, old.revision = parts, old.revision + 1
                changed.append(start)
        return changed

    def _forget_final(self, config: DeviceConfig) -> dict[int, Emitted]:
        """Drop what no acceptable sample can change any more.

        A new sample is at least `newest − grace`; the earliest reading it can follow is the
        last one before that (L). Windows from L's on can change, and they need the readings
        from one max_gap before L's window.
        """
        assert self.newest_ms is not None
        horizon = self.newest_ms - config.grace_ms
        if self.readings[0].ts_ms >= horizon:
            return {}  # no reading before the horizon (what the search below would find)
        # Searched by key, not over a list of times built per sample: this runs per sample.
        last_before = bisect.bisect_left(self.readings, horizon, key=_ts_ms) - 1
        if last_before < 0:
            return {}
        earliest_window = window_start(self.readings[last_before].ts_ms, config.window_ms)
        # Nothing becomes final before the last reading before the horizon is in a later
        # window: then the horizon is past that window's end (windows and readings come
        # from this window on only, the earlier are late).
        self.quiet_until_ms, self.quiet_for = earliest_window + config.window_ms, config
        if (
            self.windows
            and min(self.windows) >= earliest_window
            and (self.readings[0].ts_ms >= earliest_window - config.max_gap_ms)
        ):
            return {}  # nothing to drop
        keep_from = bisect.bisect_left(
            self.readings, earliest_window - config.max_gap_ms, key=_ts_ms
        )
        if keep_from > 0:
            # Holes below a dropped reading's seq are older than it, so late if they come:
            # not worth remembering.
            self._advance(max(kept[1] for kept in self.readings[:keep_from]))
            del self.readings[:keep_from]
            if self.pieces is not None:  # the new first is written whole, the next in full
                del self.pieces[:keep_from]
                self.pieces[:2] = _encoded(self.readings[:2])
                if len(self.readings) < 2:
                    self.last_step = None
        final = {s: e for s, e in self.windows.items() if s < earliest_window}
        for start in final:
            del self.windows[start]
        return final

    # --- the changelog form ---------------------------------------------------------------

    def dumps(self) -> bytes:
        """The state as its changelog record, written for every touched device once per
        batch. The readings' pieces are made as they are appended (`_appended`), so a write
        joins them: ~10× cheaper than dumping every reading again, and ~4× smaller."""
        if self.pieces is None:
            self.pieces = _encoded(self.readings)
            self.last_step = _step(*self.readings[-2:]) if len(self.readings) > 1 else None
        return b"".join(
            (
                b'{"v":2,"r":[',
                b",".join(self.pieces),
                b"],",
                orjson.dumps(
                    {
                        "w": [
                            [start, e.revision, e.late_samples, e.parts.row()]
                            for start, e in self.windows.items()
                        ],
                        "n": self.newest_ms,
                        "u": self.seen_upto,
                        "s": sorted(self.seen),
                        "l": self.late_samples,
                    }
                )[1:],
            )
        )

    @classmethod
    def loads(cls, raw: bytes) -> DeviceState:
        """A state `dumps` wrote, or one of the form before it (no "v": a row per reading,
        `[ts_ms, seq, state, counts, cycle]`), which a worker restarting on an older
        changelog reads."""
        data = orjson.loads(raw)
        rows = data["r"]
        return cls(
            readings=_decoded(rows) if "v" in data else [Reading(*row) for row in rows],
            windows={w[0]: Emitted(Parts(*w[3]), w[1], w[2]) for w in data["w"]},
            newest_ms=data["n"],
            seen_upto=data["u"],
            seen=set(data["s"]),
            late_samples=data["l"],
        )


_ts_ms = operator.itemgetter(0)  # a reading's ts_ms, in C
_STATES = tuple(STATE_FIELDS)  # a state's number in the changelog
_STATE_NUMBER = {state: number for number, state in enumerate(_STATES)}

# The readings in the changelog, version 2: the first reading whole,
# `[ts_ms, seq, state number, count_total, count_good, ideal_cycle_s]`, then each as its
# step from the one before: `[Δts_ms, Δseq, state number, Δcount_total, Δcount_good,
# ideal_cycle_s]`, or 0 for the same step as the reading before (from the third on): a
# device sampled steadily while it does not make parts costs 2 B a reading, not ~60.


def _step(before: Reading, after: Reading) -> Step:
    return (
        after.ts_ms - before.ts_ms,
        after.seq - before.seq,
        _STATE_NUMBER[after.state],
        after.count_total - before.count_total,
        after.count_good - before.count_good,
        after.ideal_cycle_s,
    )


def _encoded(readings: list[Reading]) -> list[bytes]:
    """The changelog pieces of readings, the first written whole."""
    if not readings:
        return []
    first = readings[0]
    pieces = [orjson.dumps([*first[:2], _STATE_NUMBER[first.state], *first[3:]])]
    before, last_step = first, None
    for reading in readings[1:]:
        step = _step(before, reading)
        pieces.append(b"0" if step == last_step else orjson.dumps(step))
        before, last_step = reading, step
    return pieces


def _decoded(rows: list[Any]) -> list[Reading]:
    """The readings of `_encoded` pieces."""
    if not rows:
        return []
    ts_ms, seq, state, total, good, cycle = rows[0]
    readings = [Reading(ts_ms, seq, _STATES[state], total, good, cycle)]
    step: list[Any] = []
    for row in rows[1:]:
        step = step if row == 0 else row
        d_ts, d_seq, state, d_total, d_good, cycle = step
        ts_ms, seq, total, good = ts_ms + d_ts, seq + d_seq, total + d_total, good + d_good
        readings.append(Reading(ts_ms, seq, _STATES[state], total, good, cycle))
    return readings


def _add_state_ms(parts: Parts, state: str, ms: int) -> None:
    """A state's time added to its part: branches, not setattr by name (per sample)."""
    if state == "running":
        parts.run_ms += ms
    elif state == "idle":
        parts.idle_ms += ms
    elif state == "down":
        parts.down_ms += ms
    elif state == "planned_stop":
        parts.planned_stop_ms += ms
    elif state == "setup":
        parts.setup_ms += ms
    else:
        raise KeyError(state)  # as STATE_FIELDS[state] would
