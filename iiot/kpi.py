"""KPI formulas as pure functions (ISO 22400-2; docs/kpi.md has the worked examples).

The stream workers, the tests and any batch recompute call these, so there is one
definition of each number.
"""

from __future__ import annotations

from typing import NamedTuple


class OeeRatios(NamedTuple):
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    performance_suspect: bool


def oee_ratios(
    planned_s: float, run_s: float, ideal_run_s: float, count_total: int, count_good: int
) -> OeeRatios:
    """A, P, Q and OEE from the parts of a window (a device's or a roll-up's).

    A ratio with a zero denominator is null, never NaN; OEE is defined whenever planned_s > 0
    and is 0 when no part was made. P above 1 is kept and flagged.
    """
    # run_s ≤ planned_s by construction; min() only absorbs float rounding of added parts.
    availability = min(run_s / planned_s, 1.0) if planned_s > 0 else None
    performance = ideal_run_s / run_s if run_s > 0 else None
    quality = count_good / count_total if count_total > 0 else None
    if planned_s <= 0:
        oee = None
    elif quality is None:
        oee = 0.0
    else:
        oee = ideal_run_s / planned_s * quality  # divided first: no underflow to 0 on tiny parts
    suspect = performance is not None and performance > 1.0
    return OeeRatios(availability, performance, quality, oee, suspect)
