"""Device OEE windows from samples: docs/kpi.md's hand-computed cases, then properties."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.oee import Reading, device_windows, oee_window, ordered, roll_up
from iiot.types import STATES

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
