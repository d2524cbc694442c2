"""Device OEE windows from samples: docs/kpi.md's hand-computed cases, then properties."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.contract import encode
from iiot.oee import (
    MAX_GAP_WINDOWS,
    Parts,
    Reading,
    device_windows,
    oee_window,
    ordered,
    roll_up,
)
from iiot.types import MAX_INT, STATES
from iiot.wire.oee_json import oee_window_json

MIN = 60_000


def r(
    t_s: float,
    state: str,
    total: int = 0,
    good: int | None = None,
    seq: int | None = None,
    ideal: float | None = None,
) -> Reading:
    return Reading(
        ts_ms=int(t_s * 1000),
        seq=int(t_s) if seq is None else seq,
        state=state,  # type: ignore[arg-type]
        count_total=total,
        count_good=total if good is None else good,
        ideal_cycle_s=ideal,
    )


def windows(readings: list[Reading], gap_s: float = 45, ideal: float = 8.0):
    return device_windows(
        ordered(readings), window_ms=MIN, max_gap_ms=int(gap_s * 1000), ideal_cycle_s=ideal
    ).windows


def test_design_worked_example() -> None:
    # 30 s running, 15 s down, 15 s planned stop; 3 parts at ideal 8 s, 1 of them bad.
    readings = [
        r(0, "running", 10, 10),
        r(15, "running", 12, 12),
        r(30, "down", 13, 12),
        r(45, "planned_stop", 13, 12),
        r(60, "running", 13, 12),
    ]
    w = oee_window("device", "qd-haier-p1-l2-press03", 0, windows(readings)[0])
    assert (w.run_s, w.down_s, w.planned_stop_s, w.unknown_s) == (30, 15, 15, 0)
    assert (w.planned_s, w.ideal_run_s, w.count_total, w.count_good) == (45, 24, 3, 2)
    assert w.availability == pytest.approx(30 / 45)
    assert w.performance == pytest.approx(24 / 30)
    assert w.quality == pytest.approx(2 / 3)
    assert w.oee == pytest.approx(16 / 45)
    assert w.samples == 4


def test_counter_reset_counts_the_new_value() -> None:
    readings = [r(0, "running", 100), r(10, "running", 104), r(20, "running", 3)]
    parts = windows(readings, ideal=2.0)[0]
    assert parts.count_total == 4 + 3
    assert parts.counter_resets == 1
    assert parts.ideal_run_us == 7 * 2_000_000


def test_offline_gap_beyond_max_gap_is_unknown() -> None:
    # interval 5 s → max_gap 15 s: running 0–15, unknown 15–40, running 40–55, unknown 55–60.
    w = oee_window("device", "d", 0, windows([r(0, "running"), r(40, "running")], gap_s=15)[0])
    assert (w.run_s, w.unknown_s, w.planned_s, w.availability) == (30, 30, 30, 1.0)


def test_a_silent_devices_gap_has_windows_of_unknown_time() -> None:
    # Samples at 08:00:10 and 08:03:20, max_gap 15 s: 08:01 and 08:02 exist, all unknown.
    at_8 = 1_764_144_000_000
    readings = [r(10, "running", 5), r(200, "running", 9)]
    readings = [x._replace(ts_ms=x.ts_ms + at_8) for x in readings]
    ws = device_windows(readings, window_ms=MIN, max_gap_ms=15_000, ideal_cycle_s=8.0).windows
    assert sorted(ws) == [at_8, at_8 + MIN, at_8 + 2 * MIN, at_8 + 3 * MIN]
    for start in (at_8 + MIN, at_8 + 2 * MIN):
        w = oee_window("device", "press03", start, ws[start])
        assert (w.unknown_s, w.planned_s, w.samples, w.availability, w.oee) == (
            60,
            0,
            0,
            None,
            None,
        )
        assert (w.run_s, w.count_total, w.performance, w.quality) == (0, 0, None, None)
    assert ws[at_8].run_ms == 15_000 and ws[at_8].count_total == 4  # counted where it began
    assert ws[at_8 + 3 * MIN].run_ms == 15_000


def test_a_device_back_after_a_year_makes_at_most_max_gap_windows() -> None:
    year = 365 * 24 * 3_600_000
    readings = [r(10, "running"), r(20, "running")]
    readings.append(readings[-1]._replace(ts_ms=year + 5_000, seq=99))
    ws = device_windows(readings, window_ms=MIN, max_gap_ms=15_000, ideal_cycle_s=8.0).windows
    assert len(ws) == 1 + MAX_GAP_WINDOWS + 1
    assert min(s for s in ws if s > 0) == year - MAX_GAP_WINDOWS * MIN  # the hour before


def test_window_of_only_planned_stop_has_null_oee() -> None:
    w = oee_window(
        "device",
        "d",
        0,
        windows([r(0, "planned_stop"), r(30, "planned_stop"), r(60, "planned_stop")])[0],
    )
    assert (w.planned_s, w.availability, w.oee) == (0, None, None)


def test_window_down_all_planned_time_has_oee_zero() -> None:
    w = oee_window("device", "d", 0, windows([r(0, "down"), r(30, "down"), r(60, "down")])[0])
    assert (w.down_s, w.availability, w.performance, w.quality, w.oee) == (60, 0, None, None, 0)


def test_interval_is_split_at_the_window_edge_and_counts_stay_where_it_began() -> None:
    ws = windows([r(50, "running", 0), r(70, "idle", 2), r(80, "idle", 2)], ideal=5.0)
    assert ws[0].run_ms == 10_000 and ws[MIN].run_ms == 10_000
    assert ws[0].count_total == 2 and ws[MIN].count_total == 0
    assert ws[0].ideal_run_us == 10_000_000


# --- properties -------------------------------------------------------------------------


@st.composite
def device_readings(draw: st.DrawFn) -> list[Reading]:
    n = draw(st.integers(1, 40))
    ts, total, good = draw(st.integers(0, 600_000)), 0, 0
    readings = []
    for seq in range(n):
        ts += draw(st.integers(0, 40_000))
        if draw(st.integers(0, 20)) == 0:  # a reset now and then
            total = good = 0
        made = draw(st.integers(0, 10))
        total, good = total + made, good + draw(st.integers(0, made))
        ideal = draw(st.none() | st.floats(0.5, 20).map(lambda x: round(x, 3)))
        readings.append(Reading(ts, seq, draw(st.sampled_from(STATES)), total, good, ideal))
    return readings


def covered(ws) -> tuple[int, int, int, int]:
    return (
        sum(p.covered_ms for p in ws.values()),
        sum(p.count_total for p in ws.values()),
        sum(p.count_good for p in ws.values()),
        sum(p.samples for p in ws.values()),
    )


@given(device_readings(), st.sampled_from([1_000, 15_000, 60_000, 3_600_000]))
def test_splitting_over_windows_preserves_seconds_and_counts(readings, window_ms) -> None:
    gap = 15_000
    split = device_windows(readings, window_ms=window_ms, max_gap_ms=gap, ideal_cycle_s=3)
    whole = device_windows(readings, window_ms=10**12, max_gap_ms=gap, ideal_cycle_s=3)
    assert covered(split.windows) == covered(whole.windows)
    expected_ms = sum(min(b.ts_ms - a.ts_ms, gap) for a, b in itertools.pairwise(readings)) + gap
    assert covered(split.windows)[0] == expected_ms
    for p in split.windows.values():
        assert 0 <= p.unknown_ms <= window_ms and p.count_good <= p.count_total


@given(device_readings(), st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_duplicates_and_reordering_leave_windows_unchanged(readings, rnd: random.Random) -> None:
    shuffled = readings + [rnd.choice(readings) for _ in range(len(readings) // 3)]
    rnd.shuffle(shuffled)
    kwargs = {"window_ms": MIN, "max_gap_ms": 15_000, "ideal_cycle_s": 3.0}
    assert device_windows(ordered(shuffled), **kwargs) == device_windows(readings, **kwargs)


@given(device_readings())
def test_roll_up_of_one_device_equals_the_device(readings) -> None:
    ws = device_windows(readings, window_ms=MIN, max_gap_ms=15_000, ideal_cycle_s=3).windows
    for start, parts in ws.items():
        device = oee_window("device", "d1", start, parts)
        line = oee_window("line", "d1", start, roll_up([parts]))  # type: ignore[arg-type]
        assert line.model_dump(exclude={"level"}) == device.model_dump(exclude={"level"})


@given(st.lists(device_readings(), min_size=2, max_size=5))
def test_roll_up_adds_parts_in_any_order(devices) -> None:
    kwargs = {"window_ms": MIN, "max_gap_ms": 15_000, "ideal_cycle_s": 3.0}
    per_device = [device_windows(d, **kwargs).windows for d in devices]
    starts = set().union(*per_device)
    for start in starts:
        parts = [w[start] for w in per_device if start in w]
        forward = oee_window("line", "l1", start, roll_up(parts))  # type: ignore[arg-type]
        backward = oee_window("line", "l1", start, roll_up(parts[::-1]))  # type: ignore[arg-type]
        assert forward == backward
        assert forward.devices == len(parts)
        if forward.performance is not None and forward.performance <= 1:
            assert forward.oee <= forward.availability + 1e-12  # type: ignore[operator]


def test_roll_up_is_time_weighted_not_an_average() -> None:
    # docs/kpi.md: one device at A = 1 over 60 s planned, one at A = 0 over 20 s planned.
    running = windows([r(0, "running"), r(30, "running"), r(60, "running")])[0]
    mostly_stopped = windows([r(0, "planned_stop"), r(40, "down"), r(60, "down")])[0]
    line = oee_window("line", "l1", 0, roll_up([running, mostly_stopped]))  # type: ignore[arg-type]
    assert (line.planned_s, line.run_s, line.devices) == (80, 60, 2)
    assert line.availability == 0.75


PART_INTS = (
    st.integers(-2, 3)
    | st.integers(0, 10**12)
    | st.sampled_from([1, 999, 60_000, 2**53, MAX_INT, MAX_INT + 1, 2**64])
)


@st.composite
def window_parts(draw: st.DrawFn) -> Parts:
    """Parts as a device or a roll-up has them, now and then impossible ones."""
    window_ms = draw(st.sampled_from([60_000, 3_600_000, 1, 0, -60_000, 7]))
    devices = draw(st.sampled_from([1, 1, 2, 37, 0]))
    states = [draw(st.integers(0, max(window_ms, 1) * devices // 3)) for _ in range(5)]
    if draw(st.integers(0, 5)) == 0:
        states[draw(st.integers(0, 4))] = draw(PART_INTS)
    total = draw(PART_INTS)
    good = draw(st.integers(0, max(total, 0))) if draw(st.booleans()) else draw(PART_INTS)
    ideal = draw(st.integers(0, 2 * max(states[0], 1) * 1000) | PART_INTS)
    return Parts(window_ms, devices, *states, ideal, total, good, draw(PART_INTS),
                 draw(PART_INTS))  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(parts=window_parts(),
       level=st.sampled_from(["device", "line", "province", "plant", "cell"]),
       entity_id=st.sampled_from(["qd-haier-p1-l2-press03", "a", "a:b", "", "x" * 129]),
       start_ms=st.sampled_from([0, 1_764_144_000_000, 1_764_144_060_000, 1_764_144_000_123]),
       revision=PART_INTS, late=PART_INTS)  # fmt: skip
def test_a_window_in_json_is_pydantics_to_the_byte_or_declined(
    parts: Parts, level: str, entity_id: str, start_ms: int, revision: int, late: int
) -> None:
    fast = oee_window_json(level, entity_id, start_ms, parts, revision, late)  # type: ignore[arg-type]
    try:
        window = oee_window(level, entity_id, start_ms, parts, revision=revision,  # type: ignore[arg-type]
                            late_samples=late)  # fmt: skip
    except ValueError:  # pydantic's ValidationError is one
        assert fast is None
        return
    if fast is not None:
        assert fast == (window.key, encode(window))


def test_a_device_window_takes_the_fast_path() -> None:
    parts = Parts(60_000, run_ms=40_000, idle_ms=5_000, down_ms=10_000, ideal_run_us=36_000_000,
                  count_total=9, count_good=8, samples=12)  # fmt: skip
    fast = oee_window_json("device", "qd-haier-p1-l2-press03", 1_764_144_000_000, parts, 0, 0)
    window = oee_window("device", "qd-haier-p1-l2-press03", 1_764_144_000_000, parts)
    assert fast == (window.key, encode(window))
