"""The loss waterfall from summed parts: hand-computed cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.kpi import oee_ratios
from iiot.losses import (
    LOSS_KEYS,
    SIX_BIG_LOSSES,
    STEP_KEYS,
    TOTAL_KEYS,
    LossStep,
    loss_waterfall,
)


def parts(down: float, setup: float, idle: float, run: float, ideal: float, total: int,
          good: int) -> dict[str, float]:  # fmt: skip
    return {"planned_s": down + setup + idle + run, "down_s": down, "setup_s": setup,
            "idle_s": idle, "run_s": run, "ideal_run_s": ideal, "count_total": total,
            "count_good": good}  # fmt: skip


# (parts, then (seconds, start) of each step in STEP_KEYS order), by hand.
CASES = {
    # docs/kpi.md: 30 s running, 15 s down, 3 parts at ideal 8 s, 1 bad; OEE 16/45.
    "design worked example": (
        parts(down=15, setup=0, idle=0, run=30, ideal=24, total=3, good=2),
        [(45, 0), (15, 30), (0, 30), (0, 30), (30, 0), (6, 24), (8, 16), (16, 0)],
    ),
    # 100 s planned: 20 down, 10 setup, 5 idle, 65 running; 10 parts at ideal 5.2 s, 9 good:
    # ideal run 52 → speed 13; quality 52 × 0.1 = 5.2; fully productive 46.8 (OEE 0.468).
    "every loss of a line": (
        parts(down=20, setup=10, idle=5, run=65, ideal=52, total=10, good=9),
        [(100, 0), (20, 80), (10, 70), (5, 65), (65, 0), (13, 52), (5.2, 46.8), (46.8, 0)],
    ),
}


@pytest.mark.parametrize(("given", "bars"), CASES.values(), ids=CASES.keys())
def test_hand_computed_steps(given: dict[str, float], bars: list[tuple[float, float]]) -> None:
    assert loss_waterfall(given) == [
        LossStep(key, pytest.approx(seconds), pytest.approx(start), key in TOTAL_KEYS)
        for key, (seconds, start) in zip(STEP_KEYS, bars, strict=True)
    ]


def test_performance_above_one_is_clamped() -> None:
    # 60 s running, ideal 75 s (P = 1.25): no negative speed loss; run time is all ideal.
    steps = loss_waterfall(parts(down=0, setup=0, idle=0, run=60, ideal=75, total=5, good=5))
    by_key = {s.key: s for s in steps}
    assert by_key["speed"] == LossStep("speed", 0, 60, False)
    assert by_key["fully_productive"].seconds == 60


def test_down_all_planned_time() -> None:
    steps = loss_waterfall(parts(down=60, setup=0, idle=0, run=0, ideal=0, total=0, good=0))
    assert [(s.key, s.seconds) for s in steps if s.seconds] == [("planned", 60), ("down", 60)]


def test_six_big_losses_name_waterfall_losses() -> None:
    assert len(SIX_BIG_LOSSES) == 6
    assert {b.step for b in SIX_BIG_LOSSES} == set(LOSS_KEYS)


@st.composite
def any_parts(draw: st.DrawFn) -> dict[str, float]:
    seconds = st.floats(0, 86_400 * 1_000)
    run = draw(seconds)
    total = draw(st.integers(0, 10**9))
    good = draw(st.integers(0, total))
    ideal = draw(st.floats(0, 2)) * run if total else 0.0
    return parts(draw(seconds), draw(seconds), draw(seconds), run, ideal, total, good)


@given(any_parts())
def test_parts_add_up_to_planned_time(p: dict[str, float]) -> None:
    steps = loss_waterfall(p)
    assert [s.key for s in steps] == list(STEP_KEYS)
    assert all(s.seconds >= 0 and s.start >= 0 for s in steps)
    by_key = {s.key: s.seconds for s in steps}
    planned = p["planned_s"]
    losses = sum(by_key[k] for k in LOSS_KEYS)
    assert losses + by_key["fully_productive"] == pytest.approx(planned, rel=1e-9, abs=1e-6)
    # Each loss floats on what is left after it, from planned time down.
    level = planned
    for s in steps:
        if s.total:
            level = s.seconds
        else:
            assert s.start + s.seconds == pytest.approx(level, rel=1e-9, abs=1e-6)
            level = s.start


@given(any_parts())
def test_fully_productive_share_is_the_oee_when_performance_at_most_one(
    p: dict[str, float],
) -> None:
    ratios = oee_ratios(p["planned_s"], p["run_s"], p["ideal_run_s"], int(p["count_total"]),
                        int(p["count_good"]))  # fmt: skip
    fully = loss_waterfall(p)[-1].seconds
    if ratios.oee is not None and not ratios.performance_suspect:
        assert fully / p["planned_s"] == pytest.approx(ratios.oee, rel=1e-9, abs=1e-12)
