"""OEE ratios from window parts: hand-computed cases and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.kpi import oee_ratios


def test_design_worked_example() -> None:
    # 30 s running, 15 s down, 15 s planned stop; 3 parts at ideal 8 s, 1 bad.
    r = oee_ratios(planned_s=45, run_s=30, ideal_run_s=24, count_total=3, count_good=2)
    assert r.availability == pytest.approx(30 / 45)
    assert r.performance == pytest.approx(24 / 30)
    assert r.quality == pytest.approx(2 / 3)
    assert r.oee == pytest.approx(16 / 45)
    assert not r.performance_suspect


def test_only_planned_stop_gives_null_oee() -> None:
    assert oee_ratios(0, 0, 0, 0, 0) == (None, None, None, None, False)


def test_down_all_planned_time_gives_oee_zero() -> None:
    r = oee_ratios(planned_s=60, run_s=0, ideal_run_s=0, count_total=0, count_good=0)
    assert (r.availability, r.performance, r.quality, r.oee) == (0.0, None, None, 0.0)


def test_performance_above_one_is_kept_and_flagged() -> None:
    r = oee_ratios(planned_s=60, run_s=60, ideal_run_s=75, count_total=5, count_good=5)
    assert r.performance == pytest.approx(1.25) and r.performance_suspect


@st.composite
def parts(draw: st.DrawFn) -> tuple[float, float, float, int, int]:
    planned = draw(st.floats(0, 86_400))
    run = draw(st.floats(0, 1)) * planned
    total = draw(st.integers(0, 10_000))
    good = draw(st.integers(0, total))
    ideal = draw(st.floats(0, 1.2)) * run if total else 0.0
    return planned, run, ideal, total, good


@given(parts())
def test_oee_is_a_times_p_times_q_and_never_nan(p: tuple[float, float, float, int, int]) -> None:
    r = oee_ratios(*p)
    values = [x for x in (r.availability, r.performance, r.quality, r.oee) if x is not None]
    assert all(math.isfinite(x) and x >= 0 for x in values)
    if r.availability is not None and r.performance is not None and r.quality is not None:
        assert r.oee == pytest.approx(r.availability * r.performance * r.quality, abs=1e-9)
    if r.oee is not None and r.performance is not None and r.performance <= 1:
        assert r.oee <= r.availability + 1e-12  # type: ignore[operator]
