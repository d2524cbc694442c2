"""What the roll-ups forget, and when (streams/rollup_state.py): only what every partition's
devices have passed, however unevenly the partitions catch up after an outage."""

from __future__ import annotations

import copy

import orjson

from iiot.contract import decode
from iiot.messages import DeviceBirth
from iiot.oee import Parts, from_ms
from iiot.settings import DigitizationWeights
from streams.rollup_state import SILENT_MS, RollupState
from tests.conftest import BIRTH

HOUR, MIN = 3_600_000, 60_000
T0 = 1_764_115_200_000  # 2025-11-26T00:00:00Z
GRACE = 2 * MIN


def rollup() -> RollupState:
    state = RollupState(5 * MIN, HOUR, DigitizationWeights())
    for device_id in ("press01", "press02"):
        birth = copy.deepcopy(BIRTH) | {"device_id": device_id}
        state.on_birth(decode(DeviceBirth, orjson.dumps(birth)))
    return state


def window(state: RollupState, device_id: str, start_ms: int, samples: int) -> None:
    state.on_device_window(
        device_id, start_ms, Parts(5 * MIN, run_ms=5 * MIN, samples=samples), 0, 0
    )


def forget(state: RollupState) -> None:
    """As the roll-up flow does (streams/rollup_flow.py)."""
    state.forget_before(state.settled_ms() - 2 * GRACE - state.digitization_ms)


def first_hour_samples(state: RollupState) -> int:
    return sum(w.samples_received for w in state.digitization(T0))


def caught_up_unevenly() -> RollupState:
    """After an outage partition 0 (press01) caught up to 02:30, partition 1 (press02) is
    still at 00:50: its last windows of the first hour come after the fast one's forget."""
    state = rollup()
    for start in range(T0, T0 + 2 * HOUR + 30 * MIN, 5 * MIN):
        window(state, "press01", start, 10)
    for start in range(T0, T0 + 50 * MIN, 5 * MIN):
        window(state, "press02", start, 10)
    state.take_dirty()  # emitted
    return state


def test_a_partition_behind_keeps_the_hours_it_still_adds_to() -> None:
    state = caught_up_unevenly()
    state.on_clock(0, T0 + 2 * HOUR + 30 * MIN)
    state.on_clock(1, T0 + 50 * MIN)
    assert state.settled_ms() == T0 + 50 * MIN
    forget(state)
    window(state, "press02", T0 + 50 * MIN, 10)
    window(state, "press02", T0 + 55 * MIN, 10)
    assert first_hour_samples(state) == 12 * 10 + 12 * 10
    assert T0 + 55 * MIN in state.windows  # the OEE roll-ups of the window too


def test_the_newest_window_was_the_horizon_and_lost_the_slow_partitions_hour() -> None:
    # What the clocks are for: without them (the newest window), the same run forgets the
    # first hour before press02's last windows of it come.
    state = caught_up_unevenly()
    assert state.settled_ms() == state.newest_ms == T0 + 2 * HOUR + 25 * MIN
    forget(state)
    window(state, "press02", T0 + 55 * MIN, 10)
    assert first_hour_samples(state) == 10  # the hour built again from what came after


def test_a_silent_partition_does_not_hold_forgetting_back() -> None:
    state = rollup()
    state.on_clock(0, T0 + SILENT_MS + HOUR)
    state.on_clock(1, T0)  # its devices all off since
    state.on_clock(2, T0 + SILENT_MS)  # slow, not silent
    assert state.settled_ms() == T0 + SILENT_MS


def test_a_clock_only_moves_forward() -> None:
    state = rollup()
    assert state.on_clock(0, T0 + HOUR)
    assert not state.on_clock(0, T0)  # a replay after a rebalance
    assert not state.on_clock(0, T0 + HOUR)
    assert state.clocks == {0: T0 + HOUR}


def test_a_window_changed_since_the_last_emit_goes_out_before_it_is_forgotten() -> None:
    state = caught_up_unevenly()
    state.on_clock(0, T0 + 2 * HOUR + 30 * MIN)
    state.on_clock(1, T0 + 2 * HOUR + 30 * MIN)
    window(state, "press02", T0 + 10 * MIN, 11)  # changed, not emitted yet
    forget(state)
    assert list(state.windows) == [
        T0 + 10 * MIN,
        *range(T0 + HOUR + 25 * MIN, T0 + 2 * HOUR + 30 * MIN, 5 * MIN),
    ]
    oee, digitization = state.take_dirty()
    assert {w.window_start for w in oee} == {from_ms(T0 + 10 * MIN)}
    assert sum(w.samples_received for w in digitization) == 12 * 10 + 10 * 10 + 1
    forget(state)  # emitted: now it goes
    assert T0 + 10 * MIN not in state.windows and T0 not in state.hours


def test_a_device_window_after_its_window_was_forgotten_is_counted() -> None:
    state = caught_up_unevenly()
    state.on_clock(0, T0 + 2 * HOUR + 30 * MIN)
    state.on_clock(1, T0 + 2 * HOUR + 30 * MIN)
    forget(state)
    window(state, "press02", T0 + 2 * HOUR, 10)  # still held
    assert state.late_members == 0
    window(state, "press02", T0 + 20 * MIN, 10)  # its window forgotten: warned of
    assert state.late_members == 1
