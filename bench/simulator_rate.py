"""How many samples/s the simulator generates in one process (state machines + JSON encode).

The producer benchmark needs ≥ 100,000 samples/s end to end, so generation alone must be
well above that. The run starts at 11:00 China time, mid-shift, when most machines run (the
costlier path); building the province and the births is timed apart.
Usage: .venv/bin/python bench/simulator_rate.py [devices] [simulated_s]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from iiot.topics import Topic
from simulators import FaultRates, Simulation, SimulationOptions

MID_SHIFT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SOME_FAULTS = FaultRates(
    duplicate=0.001,
    out_of_order=0.001,
    late=0.001,
    gap=0.0005,
    counter_reset=0.0001,
    clock_skew=0.0005,
    malformed=0.001,
)


def measure(devices: int, duration_s: float, faults: FaultRates) -> tuple[int, float, float]:
    """(samples, seconds generating them, seconds of set-up before the first sample)."""
    t0 = time.perf_counter()
    options = SimulationOptions(
        devices=devices, duration_s=duration_s, faults=faults, start=MID_SHIFT
    )
    events = Simulation(options).run()
    first = next(e for e in events if e.topic is Topic.TELEMETRY)
    t1 = time.perf_counter()
    samples = 1 + sum(1 for e in events if e.topic is Topic.TELEMETRY)
    return samples, time.perf_counter() - t1, t1 - t0 if first else 0.0


def main() -> None:
    devices = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    duration_s = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    print(f"simulator, one process: {devices:,} devices, {duration_s:g} simulated s")
    for label, faults in (("no faults", FaultRates()), ("faults on", SOME_FAULTS)):
        samples, gen_s, setup_s = measure(devices, duration_s, faults)
        rate = samples / gen_s
        print(
            f"  {label}: {samples:>9,} samples in {gen_s:5.2f} s = {rate:>8,.0f} samples/s"
            f" = {rate / 100_000:.2f}× the 100,000/s goal (set-up {setup_s:.2f} s)"
        )


if __name__ == "__main__":
    main()
