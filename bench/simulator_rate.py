"""How many samples/s the simulator generates in one process (state machines + JSON encode).

The producer benchmark needs ≥ 100,000 samples/s end to end, so generation alone must be
well above that. The run starts at 11:00 China time, mid-shift, when most machines run (the
costlier path). Per CPU second is the rate the process would have if it had a core to itself
(on a shared machine the wall-clock rate is lower).
Usage: .venv/bin/python bench/simulator_rate.py [devices] [simulated_s]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

from iiot.topics import Topic
from simulators import FaultRates, Simulation, SimulationOptions

try:
    from bench import results
except ImportError:  # run as a file: bench/ is first on sys.path
    import results  # type: ignore[no-redef]

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
    """(samples, wall seconds, CPU seconds) of generating them; the province, the machines
    and the births are made before the clocks start."""
    options = SimulationOptions(
        devices=devices, duration_s=duration_s, faults=faults, start=MID_SHIFT
    )
    events = Simulation(options).run()
    for _ in range(devices):  # the births
        next(events)
    wall, cpu = time.perf_counter(), time.process_time()
    samples = sum(1 for e in events if e.topic is Topic.TELEMETRY)
    return samples, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    devices = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    duration_s = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    print(f"simulator, one process: {devices:,} devices, {duration_s:g} simulated s")
    loads, figures = [os.getloadavg()[0]], {}
    for label, faults in (("no faults", FaultRates()), ("faults on", SOME_FAULTS)):
        samples, wall_s, cpu_s = measure(devices, duration_s, faults)
        rate, cpu_rate = samples / wall_s, samples / cpu_s
        figures |= {label: rate, f"{label}, per CPU s": cpu_rate}
        print(
            f"  {label}: {samples:,} samples in {wall_s:.2f} s = {rate:,.0f} samples/s"
            f" ({rate / 100_000:.2f}× the 100,000/s goal); per CPU second {cpu_rate:,.0f}"
        )
    results.record(
        "bench/simulator_rate.py",
        "samples/s",
        figures=figures,
        loads=loads,
        note=f"{devices:,} devices, {duration_s:g} simulated s",
    )


if __name__ == "__main__":
    main()
