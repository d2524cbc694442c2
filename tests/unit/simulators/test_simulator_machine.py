"""The equipment state machine over long simulated runs: its statistics match its parameters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.kpi import oee_ratios
from simulators.calendar import DAY_S, ShiftCalendar
from simulators.machine import DOWN, PLANNED, RUNNING, SETUP, Machine, MachineParams, Product
from simulators.province import TIERS, _jitter

H, MIN = 3_600.0, 60.0
START_MS = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp() * 1000)
PARAMS = MachineParams(
    mtbf_s=2 * H,
    mttr_s=20 * MIN,
    changeover_every_s=3 * H,
    setup_s=25 * MIN,
    starve_every_s=H,
    starve_s=5 * MIN,
    micro_every_s=15 * MIN,
    speed_factor=1.1,
    scrap_rate=0.03,
)


class Run:
    """A machine stepped for `days`, with time per state, episodes and counts booked."""

    def __init__(self, params: MachineParams, days: float, interval_s: float = 5.0, seed: int = 1):
        interval_ms = int(interval_s * 1000)
        self.machine = m = Machine(
            params,
            ShiftCalendar(3),
            (Product("A", 8.0), Product("B", 12.0)),
            interval_ms,
            random.Random(seed),
        )
        self.seconds: Counter[str] = Counter()
        self.episodes: Counter[str] = Counter()  # starts of down and setup episodes
        self.ideal_run_s = 0.0
        first_total, first_good = m.count_total, m.count_good
        last_unplanned = RUNNING
        t_ms = START_MS
        for _ in range(int(days * DAY_S / interval_s)):
            total_before, ideal = m.count_total, m.product.ideal_cycle_s
            state = m.step(t_ms)
            self.ideal_run_s += (m.count_total - total_before) * ideal
            assert m.count_total >= total_before  # monotonic PLC counters
            self.seconds[state] += interval_s
            if state != PLANNED:
                # A repair that a break interrupted resumes: it is the same episode.
                if state in (DOWN, SETUP) and last_unplanned != state:
                    self.episodes[state] += 1
                last_unplanned = state
            t_ms += interval_ms
        self.total = m.count_total - first_total
        self.good = m.count_good - first_good
        self.planned_s = sum(s for state, s in self.seconds.items() if state != PLANNED)

    def oee(self) -> float:
        ratios = oee_ratios(
            self.planned_s, self.seconds[RUNNING], self.ideal_run_s, self.total, self.good
        )
        assert ratios.oee is not None
        return ratios.oee


@pytest.fixture(scope="module")
def long_run() -> Run:
    return Run(PARAMS, days=40)


def test_breakdowns_follow_mtbf_and_mttr(long_run: Run) -> None:
    breakdowns = long_run.episodes[DOWN]
    assert breakdowns == long_run.machine.breakdowns
    assert breakdowns > 200
    mtbf = long_run.seconds[RUNNING] / breakdowns
    mttr = long_run.seconds[DOWN] / breakdowns
    assert mtbf == pytest.approx(PARAMS.mtbf_s, rel=0.15)
    assert mttr == pytest.approx(PARAMS.mttr_s, rel=0.15)


def test_changeovers_follow_their_parameters(long_run: Run) -> None:
    changeovers = long_run.episodes[SETUP]
    assert long_run.seconds[RUNNING] / changeovers == pytest.approx(
        PARAMS.changeover_every_s, rel=0.15
    )
    assert long_run.seconds[SETUP] / changeovers == pytest.approx(PARAMS.setup_s, rel=0.15)


def test_availability_matches_the_parameters(long_run: Run) -> None:
    observed = long_run.seconds[RUNNING] / long_run.planned_s
    assert observed == pytest.approx(PARAMS.expected_availability(5.0), abs=0.03)


def test_planned_stops_follow_the_shift_calendar(long_run: Run) -> None:
    share = long_run.seconds[PLANNED] / sum(long_run.seconds.values())
    assert share == pytest.approx(ShiftCalendar(3).planned_s_per_day() / DAY_S, abs=0.002)


def test_scrap_and_speed_loss(long_run: Run) -> None:
    assert (long_run.total - long_run.good) / long_run.total == pytest.approx(
        PARAMS.scrap_rate, rel=0.1
    )
    performance = long_run.ideal_run_s / long_run.seconds[RUNNING]
    assert performance == pytest.approx(1 / PARAMS.speed_factor, rel=0.03)


@pytest.mark.parametrize("jitter", [0.0, 1.0])  # the extremes of machine-to-machine spread
@pytest.mark.parametrize(("tier", "params"), [(name, params) for name, _, params in TIERS])
def test_long_run_oee_of_every_line_tier_is_realistic(
    tier: str, params: MachineParams, jitter: float
) -> None:
    oee = Run(_jitter(params, jitter), days=20, interval_s=10.0).oee()
    if tier == "best":
        assert 0.80 < oee <= 0.90
    else:
        assert 0.40 <= oee <= 0.85


def test_calendar_planned_share_per_day() -> None:
    assert ShiftCalendar(3).planned_s_per_day() == 3 * 50 * 60  # two 10-min breaks, a meal
    assert ShiftCalendar(2).planned_s_per_day() == 2 * 50 * 60 + 8 * 3_600  # and the night


def test_lunch_break_is_at_local_noon_in_china_time() -> None:
    calendar = ShiftCalendar(2)
    at = lambda h, m: int(datetime(2026, 11, 26, h, m, tzinfo=UTC).timestamp() * 1000)  # noqa: E731
    assert calendar.at(at(2, 5))[0]  # 10:05 CST, meal break of the 06:00 shift
    assert not calendar.at(at(2, 45))[0]  # 10:45 CST, back at work
    assert calendar.at(at(15, 0))[0]  # 23:00 CST, no night shift


@given(st.sampled_from([2, 3]), st.integers(0, 400 * DAY_S * 1000))
def test_calendar_answer_holds_until_it_changes(shifts: int, offset_ms: int) -> None:
    calendar = ShiftCalendar(shifts)
    t_ms = START_MS + offset_ms
    planned, next_ms = calendar.at(t_ms)
    assert t_ms < next_ms <= t_ms + DAY_S * 1000
    assert calendar.at(next_ms - 1)[0] == planned
