"""Process values that follow the equipment state: power, temperature, vibration and one
value of the kind's own (spindle speed, hydraulic pressure, …)."""

from __future__ import annotations

import math
import random

from simulators.catalogue import KindSpec
from simulators.machine import DOWN, IDLE, PLANNED, RUNNING, SETUP

AMBIENT_C = 22.0
TEMP_TAU_S = 600.0  # thermal time constant: ten minutes to settle most of the way
# Share of rated power drawn per state; down is near zero (the machine is locked out).
POWER_SHARE = {RUNNING: 0.85, IDLE: 0.30, SETUP: 0.20, DOWN: 0.01, PLANNED: 0.04}
HEAT_SHARE = {RUNNING: 1.0, IDLE: 0.5, SETUP: 0.3, DOWN: 0.0, PLANNED: 0.0}


class ProcessModel:
    """One device's process values; `values()` is called once per sample."""

    __slots__ = ("_alpha", "_base_vib", "_rng", "kind", "metric", "temp_c")

    def __init__(self, kind: KindSpec, interval_s: float, rng: random.Random) -> None:
        self.kind = kind
        self.metric = kind.process_metric
        self._rng = rng
        self._alpha = 1 - math.exp(-interval_s / TEMP_TAU_S)
        self._base_vib = 0.8 + 1.2 * rng.random()  # mm/s RMS of a healthy machine
        self.temp_c = AMBIENT_C + 5 * rng.random()

    def values(self, state: str, wear: float, drift_h: float) -> dict[str, float]:
        """Values at a sample: `wear` 0…1 as the next breakdown nears, `drift_h` running
        hours since the last repair (temperature creeps up as a machine wears)."""
        k = self.kind
        noise = self._rng.random
        heat = HEAT_SHARE[state]
        target = AMBIENT_C + heat * (k.temp_running_c - AMBIENT_C + min(drift_h * 0.3, 6.0))
        self.temp_c += (target - self.temp_c) * self._alpha + (noise() - 0.5) * 0.2
        if state == RUNNING:
            vib = self._base_vib * (1 + 2.5 * wear) * (0.9 + 0.2 * noise())
            process = k.process_running * (0.97 + 0.06 * noise())
        else:
            vib = 0.05 * noise() if state in (DOWN, PLANNED) else self._base_vib * 0.3
            process = k.process_idle if state in (IDLE, SETUP) else 0.0
        power = k.rated_kw * POWER_SHARE[state] * (0.9 + 0.2 * noise())
        return {
            "power_kw": round(power, 2),
            "temperature_c": round(self.temp_c, 1),
            "vibration_mm_s": round(vib, 2),
            self.metric: round(process, 1),
        }
