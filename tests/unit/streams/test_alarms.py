"""Alarm episodes: raised once, cleared once, in event time."""

from __future__ import annotations

from datetime import UTC, datetime

from iiot.results import OeeWindow
from streams.alarms import AlarmRules, AlarmState

RULES = AlarmRules(down_after_s=300, oee_low=0.4, oee_low_windows=3, performance_high=1.05)
DEV = "yt-lenovo-p1-l1-smt01"


def edges(alarms) -> list[tuple[str, str, int]]:
    return [(a.kind, a.status, int(a.ts.timestamp())) for a in alarms]


def test_down_too_long_is_one_episode() -> None:
    state, alarms = AlarmState(), []
    for t in range(0, 601, 5):
        alarms += state.on_reading(DEV, t * 1000, "down", RULES)
    alarms += state.on_reading(DEV, 605_000, "running", RULES)
    alarms += state.on_reading(DEV, 610_000, "running", RULES)
    assert edges(alarms) == [("down_too_long", "raised", 300), ("down_too_long", "cleared", 605)]
    assert alarms[1].raised_at == alarms[0].raised_at


def test_out_of_order_readings_do_not_move_alarms() -> None:
    state = AlarmState()
    state.on_reading(DEV, 10_000, "down", RULES)
    assert state.on_reading(DEV, 5_000, "running", RULES) == []
    assert state.down_since_ms == 10_000


def test_offline_raised_by_the_partition_clock_cleared_by_the_next_sample() -> None:
    state = AlarmState()
    state.on_reading(DEV, 0, "running", RULES)
    assert state.on_silence(DEV, 10_000, max_gap_ms=15_000) == []
    raised = state.on_silence(DEV, 60_000, max_gap_ms=15_000)
    assert state.on_silence(DEV, 90_000, max_gap_ms=15_000) == []  # once per episode
    cleared = state.on_reading(DEV, 95_000, "running", RULES)
    assert edges(raised + cleared) == [("offline", "raised", 15), ("offline", "cleared", 95)]


def test_offline_from_a_gap_the_sweep_never_saw_is_the_same_episode() -> None:
    # Samples held for their birth, or read in one batch, come in a burst: no sweep ran while
    # the device was silent, yet the episode is the one a sweep raises, then cleared.
    burst = AlarmState()
    burst.on_reading(DEV, 0, "running", RULES, max_gap_ms=15_000)
    alarms = burst.on_reading(DEV, 95_000, "running", RULES, max_gap_ms=15_000)
    assert edges(alarms) == [("offline", "raised", 15), ("offline", "cleared", 95)]
    swept = AlarmState()
    swept.on_reading(DEV, 0, "running", RULES, max_gap_ms=15_000)
    raised = swept.on_silence(DEV, 60_000, max_gap_ms=15_000)
    cleared = swept.on_reading(DEV, 95_000, "running", RULES, max_gap_ms=15_000)
    assert edges(raised + cleared) == edges(alarms)  # once, whoever saw the silence first


def window(minute: int, oee: float | None, performance: float | None = 0.9) -> OeeWindow:
    planned = 60.0 if oee is not None else 0.0
    return OeeWindow(
        level="device", entity_id=DEV,
        window_start=datetime(2026, 11, 26, 8, minute, tzinfo=UTC),
        window_end=datetime(2026, 11, 26, 8, minute + 1, tzinfo=UTC),
        revision=0, devices=1, samples=12,
        run_s=planned, idle_s=0, setup_s=0, down_s=0, planned_stop_s=60 - planned,
        unknown_s=0, planned_s=planned, ideal_run_s=0, count_total=0, count_good=0,
        availability=1.0 if oee is not None else None, performance=performance,
        quality=None, oee=oee,
    )  # fmt: skip


def test_oee_low_after_k_windows_and_cleared_when_it_recovers() -> None:
    state, alarms = AlarmState(), []
    for minute, oee in enumerate([0.3, 0.2, None, 0.35, 0.1, 0.6, 0.3]):
        alarms += state.on_final_window(DEV, window(minute, oee), RULES)
    # 0.3, 0.2, (planned stop: no OEE, the run goes on), 0.35 → raised at the end of minute 3
    assert [(a.kind, a.status, a.ts.minute) for a in alarms] == [
        ("oee_low", "raised", 4),
        ("oee_low", "cleared", 6),
    ]


def test_performance_above_limit_and_counter_resets() -> None:
    state = AlarmState()
    alarms = state.on_final_window(DEV, window(0, 0.5, performance=1.2), RULES)
    alarms += state.on_final_window(DEV, window(1, 0.5, performance=1.3), RULES)
    alarms += state.on_final_window(DEV, window(2, 0.5, performance=1.0), RULES)
    alarms += state.on_counter_reset(DEV, 1, 60_000) + state.on_counter_reset(DEV, 2, 120_000)
    alarms += state.on_counter_reset(DEV, 0, 180_000)
    assert [(a.kind, a.status) for a in alarms] == [
        ("performance_suspect", "raised"),
        ("performance_suspect", "cleared"),
        ("counter_reset", "raised"),
        ("counter_reset", "cleared"),
    ]
    assert AlarmState.loads(state.dumps()) == state
