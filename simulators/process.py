"""Process values that follow the equipment state: power, temperature, vibration and one
value of the kind's own (spindle speed, hydraulic pressure, …)."""

from __future__ import annotations

import math
import random
from functools import cache

from simulators.catalogue import KindSpec
from simulators.machine import DOWN, IDLE, PLANNED, RUNNING, SETUP, Machine

AMBIENT_C = 22.0
TEMP_TAU_S = 600.0  # thermal time constant: ten minutes to settle most of the way
WEAR_HORIZON_S = 1_800.0  # vibration rises over the last half hour of running before a failure
# Per state: share of rated power (down ≈ 0: locked out), share of the running heat, and
# vibration as a share of a healthy running machine's.
STATE_SHARES = {
    RUNNING: (0.85, 1.0, 1.0),
    IDLE: (0.30, 0.5, 0.3),
    SETUP: (0.20, 0.3, 0.3),
    DOWN: (0.01, 0.0, 0.02),
    PLANNED: (0.04, 0.0, 0.02),
}


NOISE_STEPS = 32  # noisy values come from per-device tables of this many pre-rounded values


VIBRATION_LEVELS = 8  # healthy vibration differs by machine, in this many steps
Tables = dict[str, tuple[list[float], list[float], list[float], float]]


def _noisy(mean: float, spread: float) -> list[float]:
    """`mean` × (1 ± spread/2) in NOISE_STEPS steps, rounded to two decimals, ready to send."""
    return [
        round(mean * (1 - spread / 2 + spread * (k + 0.5) / NOISE_STEPS), 2)
        for k in range(NOISE_STEPS)
    ]


@cache
def _tables(kind: KindSpec, vibration_level: int) -> Tables:
    """Per state: power, vibration and the kind's process value as noise tables, and the
    temperature the machine settles at. Shared by all machines of a kind and level: tables
    per device would be megabytes that crowd the CPU caches."""
    base_vib = 0.8 + 1.2 * (vibration_level + 0.5) / VIBRATION_LEVELS  # mm/s RMS, healthy
    return {
        state: (
            _noisy(kind.rated_kw * power, 0.2),
            _noisy(base_vib * vib, 0.2),
            _noisy(kind.process_running if state == RUNNING else kind.process_idle, 0.06)
            if state in (RUNNING, IDLE, SETUP)
            else [0.0] * NOISE_STEPS,
            AMBIENT_C + heat * (kind.temp_running_c - AMBIENT_C),
        )
        for state, (power, heat, vib) in STATE_SHARES.items()
    }


class ProcessModel:
    """One device's process values; `values()` is called once per sample."""

    __slots__ = ("_alpha", "_by_state", "_rng", "metric", "temp_c")

    def __init__(self, kind: KindSpec, interval_s: float, rng: random.Random) -> None:
        self.metric = kind.process_metric
        self._rng = rng
        self._alpha = 1 - math.exp(-interval_s / TEMP_TAU_S)
        self._by_state = _tables(kind, rng.randrange(VIBRATION_LEVELS))
        self.temp_c = AMBIENT_C + 5 * rng.random()

    def values(self, state: str, machine: Machine) -> dict[str, float]:
        """Values at a sample: vibration rises as the next breakdown nears; temperature
        settles towards the state's level and creeps up with running hours since a repair."""
        noise = self._rng.random()
        i = int(noise * NOISE_STEPS)
        power, vib, process, target = self._by_state[state]
        vibration = vib[i]
        if state == RUNNING:
            drift_c = machine.run_since_repair_s / 12_000  # 0.3 °C per running hour, up to 6
            target += drift_c if drift_c < 6.0 else 6.0
            to_failure = machine.fail_at_s - machine.run_clock_s
            if to_failure < WEAR_HORIZON_S:
                wear = 1 - max(to_failure, 0.0) / WEAR_HORIZON_S
                vibration = round(vibration * (1 + 2.5 * wear), 2)
        temp = self.temp_c = (
            self.temp_c + (target - self.temp_c) * self._alpha + (noise - 0.5) * 0.2
        )
        return {
            "power_kw": power[i],
            # One decimal as int(x * 10 + 0.5) / 10: faster than round(), spelled the same in
            # JSON, and temperatures here are positive.
            "temperature_c": int(temp * 10 + 0.5) / 10,
            "vibration_mm_s": vibration,
            self.metric: process[i],
        }
