"""Fault injection: which samples to damage, delay or drop, and the record of what was done.

Faults draw from their own random stream per device, so turning a fault on does not change
how any machine behaves: the undamaged samples stay exactly what they were.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulators.options import FaultRates

FAULT_TYPES = (
    "duplicate",
    "out_of_order",
    "late",
    "gap",
    "counter_reset",
    "clock_skew",
    "malformed",
)
# One draw decides which (if any) of these hits a sample, in this order.
PER_SAMPLE = ("duplicate", "out_of_order", "late", "clock_skew", "malformed")
GAP_INTERVALS = (5, 30)  # offline for this many sample intervals: beyond max_gap (3)


@dataclass
class FaultReport:
    """What was injected: counts per fault type and the (device_id, seq) each one hit.

    For a gap, seq is that of the first sample after the device came back.
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_TYPES, 0))
    affected: dict[str, list[tuple[str, int]]] = field(
        default_factory=lambda: {name: [] for name in FAULT_TYPES}
    )
    samples: int = 0  # samples generated (each seq once; duplicates not counted)
    missing_samples: int = 0  # samples a device did not send while offline

    def record(self, fault: str, device_id: str, seq: int) -> None:
        self.counts[fault] += 1
        self.affected[fault].append((device_id, seq))

    def as_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "missing_samples": self.missing_samples,
            "counts": dict(self.counts),
            "affected": {k: [list(a) for a in v] for k, v in self.affected.items()},
        }


class FaultPlan:
    """The thresholds of one run's faults, shared by every device."""

    __slots__ = ("counter_reset", "edges", "gap", "on")

    def __init__(self, rates: FaultRates) -> None:
        self.on = rates.any()
        self.gap = rates.gap
        self.counter_reset = rates.counter_reset
        edges: list[tuple[float, str]] = []
        edge = 0.0
        for name in PER_SAMPLE:
            rate = getattr(rates, name)
            if rate > 0:
                edge += rate
                edges.append((edge, name))
        self.edges = tuple(edges)

    def per_sample(self, rng: random.Random) -> str | None:
        """The fault that hits this sample, if any (one uniform draw, always made)."""
        u = rng.random()
        for edge, name in self.edges:
            if u < edge:
                return name
        return None

    def gap_intervals(self, rng: random.Random) -> int:
        """0, or how many intervals the device goes offline from this sample."""
        if self.gap > 0 and rng.random() < self.gap:
            return rng.randint(*GAP_INTERVALS)
        return 0

    def resets(self, rng: random.Random) -> bool:
        return self.counter_reset > 0 and rng.random() < self.counter_reset
