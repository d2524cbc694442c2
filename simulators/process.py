"""Process values that follow the equipment state: power, temperature, vibration and one
value of the kind's own (spindle speed, hydraulic pressure, …)."""

from __future__ import annotations

import math
import random
from functools import cache
from typing import Final

import orjson

from simulators.catalogue import KindSpec
from simulators.machine import DOWN, IDLE, PLANNED, RUNNING, SETUP, Machine
from simulators.wire import text

# Final: compiled (simulators/native.py), constants are built in, not looked up per sample.
AMBIENT_C: Final = 22.0
TEMP_TAU_S: Final = 600.0  # thermal time constant: ten minutes to settle most of the way
# Vibration rises over the last half hour of running before a failure.
WEAR_HORIZON_S: Final = 1_800.0
# Per state: share of rated power (down ≈ 0: locked out), share of the running heat, and
# vibration as a share of a healthy running machine's.
STATE_SHARES = {
    RUNNING: (0.85, 1.0, 1.0),
    IDLE: (0.30, 0.5, 0.3),
    SETUP: (0.20, 0.3, 0.3),
    DOWN: (0.01, 0.0, 0.02),
    PLANNED: (0.04, 0.0, 0.02),
}


NOISE_STEPS: Final = 32  # noisy values come from per-device tables of this many pre-rounded values


VIBRATION_LEVELS: Final = 8  # healthy vibration differs by machine, in this many steps
Tables = dict[str, tuple[list[float], list[float], list[float], float]]
# The wire form, per state: for each noise step the JSON text up to the temperature and from
# the vibration on (`{"power_kw":6.8,"temperature_c":` and `,"vibration_mm_s":1.2,…}`), the
# temperature it settles at, the healthy vibrations, the text after the vibration.
Wire = dict[str, tuple[list[str], list[str], float, list[float], list[str]]]
# Temperatures in tenths of a degree as orjson spells them, 0.0–300.0 °C: formatting a float
# costs more than making the rest of a sample's metrics.
TENTHS_WRITTEN: Final = 3_001
_TENTHS: Final = [text(k / 10) for k in range(TENTHS_WRITTEN)]


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


@cache
def _wire(kind: KindSpec, vibration_level: int) -> Wire:
    """`_tables` written out as JSON fragments, so a sample's metrics are three lookups and
    one temperature away from their text."""
    metric = text(kind.process_metric)
    wire: Wire = {}
    for state, (power, vib, process, target) in _tables(kind, vibration_level).items():
        after = [f",{metric}:{text(p)}}}" for p in process]
        wire[state] = (
            [f'{{"power_kw":{text(p)},"temperature_c":' for p in power],
            [f',"vibration_mm_s":{text(v)}{a}' for v, a in zip(vib, after, strict=True)],
            target,
            vib,
            after,
        )
    return wire


class ProcessModel:
    """One device's process values; `values()` or `wire()` is called once per sample."""

    __slots__ = ("_alpha", "_rng", "_wire", "metric", "temp_c")

    def __init__(self, kind: KindSpec, interval_s: float, rng: random.Random) -> None:
        self.metric = kind.process_metric
        self._rng = rng
        self._alpha = 1 - math.exp(-interval_s / TEMP_TAU_S)
        self._wire = _wire(kind, rng.randrange(VIBRATION_LEVELS))
        self.temp_c = AMBIENT_C + 5 * rng.random()

    def values(self, state: str, machine: Machine) -> dict[str, float]:
        """Values at a sample: vibration rises as the next breakdown nears; temperature
        settles towards the state's level and creeps up with running hours since a repair.
        (Read back from `wire()`, which the simulator calls: one definition of both.)"""
        values: dict[str, float] = orjson.loads(self.wire(state, machine))
        return values

    def wire(self, state: str, machine: Machine) -> str:
        """The values at a sample (see `values()`) as the JSON object orjson would write:
        the simulator's hot path builds a sample's JSON from such fragments."""
        noise = self._rng.random()
        i = int(noise * NOISE_STEPS)
        head, tail, target, vib, after = self._wire[state]
        rest = tail[i]
        if state == RUNNING:
            drift_c = machine.run_since_repair_s / 12_000  # 0.3 °C per running hour, up to 6
            target += drift_c if drift_c < 6.0 else 6.0
            to_failure = machine.fail_at_s - machine.run_clock_s
            if to_failure < WEAR_HORIZON_S:
                wear = 1 - max(to_failure, 0.0) / WEAR_HORIZON_S
                vibration = round(vib[i] * (1 + 2.5 * wear), 2)
                rest = f',"vibration_mm_s":{text(vibration)}{after[i]}'
        temp = self.temp_c = (
            self.temp_c + (target - self.temp_c) * self._alpha + (noise - 0.5) * 0.2
        )
        # One decimal as int(x * 10 + 0.5): temperatures here are positive.
        tenths = int(temp * 10 + 0.5)
        if 0 <= tenths < TENTHS_WRITTEN:
            return head[i] + _TENTHS[tenths] + rest
        return head[i] + text(tenths / 10) + rest
