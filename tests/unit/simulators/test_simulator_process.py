"""Process values follow the equipment state: power, temperature and vibration."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

import orjson

from simulators.calendar import ShiftCalendar
from simulators.catalogue import KINDS
from simulators.machine import DOWN, PLANNED, RUNNING, Machine, MachineParams, Product
from simulators.process import ProcessModel

H, MIN = 3_600.0, 60.0
START_MS = 1_795_651_200_000  # 2026-11-26T00:00Z
PRESS = KINDS["press"]
PARAMS = MachineParams(2 * H, 20 * MIN, 3 * H, 20 * MIN, H, 5 * MIN, 15 * MIN, 1.1, 0.03)


def test_values_follow_the_state_and_warn_before_breakdowns() -> None:
    interval_ms = int(PRESS.sample_interval_s * 1000)
    rng = random.Random(4)
    machine = Machine(PARAMS, ShiftCalendar(2), (Product("A", 4.0),), interval_ms, rng)
    process = ProcessModel(PRESS, PRESS.sample_interval_s, rng)
    by_state: dict[str, list[dict[str, float]]] = defaultdict(list)
    running_vibration: list[float] = []  # in order, to look back from each breakdown
    before_breakdown: list[float] = []
    state = RUNNING
    for k in range(2 * 86_400 // 2):
        previous, state = state, machine.step(START_MS + k * interval_ms)
        values = process.values(state, machine)
        by_state[state].append(values)
        if state == RUNNING:
            running_vibration.append(values["vibration_mm_s"])
        elif state == DOWN and previous == RUNNING:
            before_breakdown += running_vibration[-60:]  # the last two running minutes
    mean = lambda state, name: statistics.fmean(v[name] for v in by_state[state])  # noqa: E731
    assert mean(DOWN, "power_kw") < 0.02 * PRESS.rated_kw < mean(RUNNING, "power_kw") / 40
    assert mean(PLANNED, "temperature_c") < mean(RUNNING, "temperature_c") - 5
    assert mean(RUNNING, "hydraulic_bar") > 150 and mean(DOWN, "hydraulic_bar") == 0
    assert statistics.fmean(before_breakdown) > 2 * statistics.fmean(running_vibration)
    assert set(by_state[RUNNING][0]) == {
        "power_kw", "temperature_c", "vibration_mm_s", "hydraulic_bar"
    }  # fmt: skip


def test_the_wire_text_is_what_orjson_writes_for_the_values() -> None:
    """The metrics JSON is put together from pre-written fragments; it must be byte for byte
    orjson's (and so pydantic's) spelling of the same values, wear and all."""
    interval_ms = int(PRESS.sample_interval_s * 1000)
    rng = random.Random(9)
    machine = Machine(PARAMS, ShiftCalendar(3), (Product("A", 4.0),), interval_ms, rng)
    process = ProcessModel(PRESS, PRESS.sample_interval_s, rng)
    worn = 0
    for k in range(86_400 // 2):
        state = machine.step(START_MS + k * interval_ms)
        worn += state == RUNNING and machine.fail_at_s - machine.run_clock_s < 1_800
        text = process.wire(state, machine)
        assert orjson.dumps(orjson.loads(text)).decode() == text
    assert worn > 100  # the vibration written on the spot was checked too
