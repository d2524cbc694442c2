"""The loss waterfall and the six big losses, from summed OEE parts (docs/kpi.md, "Losses").

Planned time falls, step by step, to fully productive time: the availability losses (down,
setup, idle) leave run time; the speed loss leaves ideal run time; the quality loss leaves
fully productive time, whose share of planned time is the OEE. The parts are those of
`v_oee` and its roll-ups, summed over a range, so a dashboard, a report and a test all draw
the same bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LossStep:
    """One bar: `seconds` long, floating from `start`; a total stands on zero."""

    key: str
    seconds: float
    start: float
    total: bool


# The keys in waterfall order; availability losses come off planned time in this order.
STEP_KEYS = ("planned", "down", "setup", "idle", "run", "speed", "quality", "fully_productive")
TOTAL_KEYS = frozenset({"planned", "run", "fully_productive"})
LOSS_KEYS = tuple(k for k in STEP_KEYS if k not in TOTAL_KEYS)


def loss_waterfall(parts: Mapping[str, float]) -> list[LossStep]:
    """The steps from planned time to fully productive time, in `STEP_KEYS` order.

    `parts` has `v_oee`'s column names: planned_s, down_s, setup_s, idle_s, run_s,
    ideal_run_s, count_total, count_good (sums over devices and windows). planned_s is
    run_s + idle_s + setup_s + down_s by construction (window − planned stop − unknown), so
    down, setup, idle and run add up to planned time; speed, quality and fully productive
    add up to run time.

    Performance above 1 (ideal run time longer than run time: a wrong ideal cycle time) is
    clamped: the speed loss is 0 and ideal run time counts as run time, so no bar is negative
    and the bars still add up. Fully productive time over planned time is then A × Q, below
    the OEE the panels show, which keeps P > 1. Without any part made, Q counts as 0, as the
    OEE does (0 when no part was made).
    """
    planned = parts["planned_s"]
    run = parts["run_s"]
    ideal = min(parts["ideal_run_s"], run)
    total, good = parts["count_total"], parts["count_good"]
    quality_ratio = min(good / total, 1.0) if total > 0 else 0.0
    fully_productive = ideal * quality_ratio
    # Added up from run time, not taken off planned time: float rounding never makes a
    # start negative.
    idle, setup, down = parts["idle_s"], parts["setup_s"], parts["down_s"]
    return [
        LossStep("planned", planned, 0.0, True),
        LossStep("down", down, run + idle + setup, False),
        LossStep("setup", setup, run + idle, False),
        LossStep("idle", idle, run, False),
        LossStep("run", run, 0.0, True),
        LossStep("speed", run - ideal, ideal, False),
        LossStep("quality", ideal - fully_productive, fully_productive, False),
        LossStep("fully_productive", fully_productive, 0.0, True),
    ]


@dataclass(frozen=True)
class BigLoss:
    """One of Nakajima's six big losses and the waterfall step that holds it."""

    key: str
    name: str
    step: str


# Nakajima's six big losses in our parts. Two are not separable in our data: the counters
# tell good from bad parts, not a start-up reject from a defect in steady production, so
# process defects and reduced yield share the quality step. Idling and minor stops are the
# recorded `idle` time (reasons micro_stop, no_material, blocked, …: v_state_interval can
# split it by reason); a stop shorter than a device's sample interval is never recorded and
# falls in the speed loss, where Nakajima counts minor stops anyway (as a performance loss).
SIX_BIG_LOSSES = (
    BigLoss("breakdowns", "Equipment failure (breakdowns)", "down"),
    BigLoss("setup_adjustments", "Setup and adjustments", "setup"),
    BigLoss("idling_minor_stops", "Idling and minor stops", "idle"),
    BigLoss("reduced_speed", "Reduced speed", "speed"),
    BigLoss("process_defects", "Process defects", "quality"),
    BigLoss("reduced_yield", "Reduced yield (start-up rejects)", "quality"),
)
