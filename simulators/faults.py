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
MAX_AFFECTED = 100_000  # ids kept per fault type, so an endless faulty run stays bounded


@dataclass
class FaultReport:
    """What was injected: counts per fault type and the (device_id, seq) each one hit.

    For a gap, seq is that of the first sample after the device came back. Counts are
    exact; ids are kept for the first MAX_AFFECTED faults of each type.
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_TYPES, 0))
    affected: dict[str, list[tuple[str, int]]] = field(
        default_factory=lambda: {name: [] for name in FAULT_TYPES}
    )
    samples: int = 0  # samples generated (each seq once; duplicates not counted)
    missing_samples: int = 0  # samples a device did not send while offline

    def record(self, fault: str, device_id: str, seq: int) -> None:
        self.counts[fault] += 1
        if self.counts[fault] <= MAX_AFFECTED:
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

    __slots__ = ("counter_reset", "edges", "gap", "on", "per_sample_rate")

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
        self.per_sample_rate = edge  # a draw at or above this hits no sample fault

    def per_sample(self, u: float) -> str | None:
        """The fault a sample's uniform draw `u` selects, if any."""
        for edge, name in self.edges:
            if u < edge:
                return name
        return None

    def gap_intervals(self, rng: random.Random) -> int:
        """How many intervals a device goes offline for, once a gap began."""
        return rng.randint(*GAP_INTERVALS)
