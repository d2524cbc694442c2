"""Why a simulated machine stands (a Sample's `reason`): one code per kind of episode, only
while down, idle or in setup, and the same for the same seed."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import orjson

from iiot.types import REASON_CODES
from simulators import Simulation, SimulationOptions
from simulators.calendar import ShiftCalendar
from simulators.machine import DOWN, IDLE, REASONS, SETUP, Machine, Product
from tests.unit.simulators.test_simulator_machine import PARAMS, START_MS

# What each state may give as its reason.
ALLOWED: dict[str, set[str | None]] = {
    "running": {None}, "planned_stop": {None}, DOWN: {"breakdown"}, SETUP: {"changeover"},
    IDLE: {"no_material", "micro_stop"},
}  # fmt: skip
MID_SHIFT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 11:00 China time


def reasons_of(**options: object) -> list[tuple[str, int, str, str | None]]:
    """(device, seq, state, reason) of every sample of a run, in delivery order."""
    run = Simulation(SimulationOptions(**options)).run()  # type: ignore[arg-type]
    out = []
    for e in run:
        if e.valid and e.topic.value == "iiot.telemetry":
            sample = orjson.loads(e.value)
            out.append((sample["device_id"], sample["seq"], sample["state"], sample["reason"]))
    return out


def test_the_machines_codes_are_conventional_ones() -> None:
    assert REASONS[0] is None and set(REASONS[1:]) <= set(REASON_CODES)


def test_a_machine_gives_a_reason_only_while_it_stands_for_its_episode() -> None:
    interval_ms = 5_000
    m = Machine(PARAMS, ShiftCalendar(3), (Product("A", 8.0),), interval_ms, random.Random(3))
    seen: Counter[tuple[str, str | None]] = Counter()
    for step in range(10 * 17_280):  # ten days of 5 s intervals
        state = m.step(START_MS + step * interval_ms)
        seen[state, REASONS[m.reason]] += 1
    for state, reason in seen:
        assert reason in ALLOWED[state], (state, reason)
    assert {reason for _, reason in seen} == {None, *REASONS[1:]}  # every cause happens


def test_simulated_samples_carry_reasons_only_when_down_idle_or_in_setup() -> None:
    samples = reasons_of(devices=40, duration_s=3 * 3_600, start=MID_SHIFT, seed=5)
    by_reason = Counter(reason for _, _, _, reason in samples)
    for _, _, state, reason in samples:
        assert reason in ALLOWED[state], (state, reason)
    assert set(by_reason) == {None, *REASONS[1:]}
    assert by_reason[None] > 0.8 * len(samples)  # mostly running or on a break


def test_the_same_seed_gives_the_same_reasons_and_another_seed_others() -> None:
    options = {"devices": 20, "duration_s": 3_600, "start": MID_SHIFT}
    first = reasons_of(seed=11, **options)
    assert reasons_of(seed=11, **options) == first
    assert reasons_of(seed=12, **options) != first
