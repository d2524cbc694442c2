"""The equipment state machine of one device, stepped once per sample interval.

At each sample time the machine first books what the interval just ended produced, then
decides the state of the interval that starts now (a state holds from its sample's ts to the
next sample). Breakdowns, changeovers, starvation and micro-stops are clocked in *running*
time, so a machine standing still through a break does not wear; during a planned stop
every episode clock is frozen and a repair resumes after the break. Each episode says why
the machine stands (`reason`, a Sample's reason code); running and planned stops say none.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from simulators.calendar import ShiftCalendar

# Final: compiled (simulators/native.py), the states are constants, not module look-ups.
RUNNING: Final = "running"
IDLE: Final = "idle"
SETUP: Final = "setup"
DOWN: Final = "down"
PLANNED: Final = "planned_stop"
NEVER: Final = float("inf")
# Why the machine stands, by its episode (docs/contract.md, "Reasons"): indexes into REASONS,
# which the simulator's wire texts are kept by (simulators/simulation.py).
NO_REASON: Final = 0
BREAKDOWN: Final = 1
CHANGEOVER: Final = 2
NO_MATERIAL: Final = 3
MICRO_STOP: Final = 4
REASONS: Final[tuple[str | None, ...]] = (
    None,
    "breakdown",
    "changeover",
    "no_material",
    "micro_stop",
)


@dataclass(frozen=True, slots=True)
class MachineParams:
    """How a machine loses time and parts; means in seconds of the relevant clock."""

    mtbf_s: float  # mean running time between breakdowns
    mttr_s: float  # mean time to repair
    changeover_every_s: float  # mean running time between product changeovers
    setup_s: float  # mean changeover duration
    starve_every_s: float  # mean running time between starvation episodes
    starve_s: float  # mean starvation duration
    micro_every_s: float  # mean running time between micro-stops (one or two intervals)
    speed_factor: float  # actual cycle / ideal cycle, ≥ 1: the speed loss
    scrap_rate: float  # share of parts that are bad

    def expected_availability(self, interval_s: float) -> float:
        """Run time / (planned time) in the long run, ignoring interval rounding."""
        micro_s = 1.5 * interval_s
        lost_per_run_s = (
            self.mttr_s / self.mtbf_s
            + self.setup_s / self.changeover_every_s
            + self.starve_s / self.starve_every_s
            + micro_s / self.micro_every_s
        )
        return 1 / (1 + lost_per_run_s)


@dataclass(frozen=True, slots=True)
class Product:
    name: str
    ideal_cycle_s: float


class Machine:
    """One device's state, counters and episode clocks."""

    __slots__ = (
        "_change_at",
        "_cycles_per_interval",
        "_episode_left",
        "_episode_reason",
        "_episode_state",
        "_micro_at",
        "_next_event",
        "_progress",
        "_starve_at",
        "breakdowns",
        "calendar",
        "count_good",
        "count_total",
        "dt_s",
        "fail_at_s",
        "interval_ms",
        "params",
        "planned",
        "planned_until_ms",
        "product",
        "product_index",
        "products",
        "reason",
        "rng",
        "run_clock_s",
        "run_since_repair_s",
        "state",
    )

    def __init__(
        self,
        params: MachineParams,
        calendar: ShiftCalendar,
        products: tuple[Product, ...],
        interval_ms: int,
        rng: random.Random,
    ) -> None:
        self.params = params
        self.calendar = calendar
        self.products = products
        self.interval_ms = interval_ms
        self.dt_s = interval_ms / 1000
        self.rng = rng
        self._set_product(rng.randrange(len(products)))
        self.count_total = rng.randrange(0, 500_000)  # PLC counters have a history
        self.count_good = self.count_total - int(self.count_total * params.scrap_rate)
        self.state = PLANNED
        self.reason = NO_REASON  # why it stands, from REASONS: none while running or planned
        self.planned = False
        self.planned_until_ms = -1  # forces a calendar look-up on the first step
        self.run_clock_s = 0.0
        self.run_since_repair_s = 0.0
        self.breakdowns = 0
        self._progress = rng.random()  # part of a cycle already done
        self._episode_left = 0
        self._episode_state = RUNNING
        self._episode_reason = NO_REASON
        self.fail_at_s = self._after(params.mtbf_s)
        self._change_at = self._after(params.changeover_every_s)
        self._starve_at = self._after(params.starve_every_s)
        self._micro_at = self._after(params.micro_every_s)
        self._next_event = min(self.fail_at_s, self._change_at, self._starve_at, self._micro_at)

    def _after(self, mean_s: float) -> float:
        """Run-clock time of the next event of a Poisson process with that mean spacing."""
        return self.run_clock_s + self.rng.expovariate(1 / mean_s) if mean_s > 0 else NEVER

    def _intervals(self, mean_s: float) -> int:
        """An exponential episode length, in whole sample intervals (at least one)."""
        return max(1, round(self.rng.expovariate(1 / mean_s) / self.dt_s))

    def step(self, t_ms: int) -> str:
        """Book the interval that just ended, then decide and return the state from `t_ms`
        (and set `reason`, why it stands)."""
        if self.state == RUNNING:  # book the parts (inline: this runs for every sample)
            dt = self.dt_s
            self.run_clock_s += dt
            self.run_since_repair_s += dt
            random = self.rng.random
            # Cycles per interval at the slowed-down speed (the speed loss), with some jitter.
            self._progress += self._cycles_per_interval * (0.95 + 0.1 * random())
            if self._progress >= 1.0:
                parts = int(self._progress)
                self._progress -= parts
                good = parts
                scrap_rate = self.params.scrap_rate
                for _ in range(parts):
                    if random() < scrap_rate:
                        good -= 1
                self.count_total += parts
                self.count_good += good
        if t_ms >= self.planned_until_ms:
            self.planned, self.planned_until_ms = self.calendar.at(t_ms)
        if self.planned:
            state, reason = PLANNED, NO_REASON
        elif self._episode_left > 0:
            self._episode_left -= 1
            state, reason = self._episode_state, self._episode_reason
        elif self.run_clock_s >= self._next_event:
            state = self._start_episode()
            reason = self._episode_reason
        else:
            state, reason = RUNNING, NO_REASON
        self.state = state
        self.reason = reason
        return state

    def _set_product(self, index: int) -> None:
        self.product_index = index
        self.product = product = self.products[index]
        self._cycles_per_interval = self.dt_s / (product.ideal_cycle_s * self.params.speed_factor)

    def _start_episode(self) -> str:
        """The earliest due event on the run clock becomes the state of the next intervals."""
        p = self.params
        due = self._next_event
        if due == self.fail_at_s:
            state, reason, length = DOWN, BREAKDOWN, self._intervals(p.mttr_s)
            self.breakdowns += 1
            self.run_since_repair_s = 0.0
            self.fail_at_s = self._after(p.mtbf_s)
        elif due == self._change_at:
            state, reason, length = SETUP, CHANGEOVER, self._intervals(p.setup_s)
            self._set_product((self.product_index + 1) % len(self.products))
            self._change_at = self._after(p.changeover_every_s)
        elif due == self._starve_at:
            state, reason, length = IDLE, NO_MATERIAL, self._intervals(p.starve_s)
            self._starve_at = self._after(p.starve_every_s)
        else:
            state, reason, length = IDLE, MICRO_STOP, 1 + (self.rng.random() < 0.5)
            self._micro_at = self._after(p.micro_every_s)
        # Events that fell due during this episode wait for the next running interval.
        self._next_event = min(self.fail_at_s, self._change_at, self._starve_at, self._micro_at)
        self._episode_state = state
        self._episode_reason = reason
        self._episode_left = length - 1
        return state

    def reset_counters(self) -> None:
        """A PLC counter reset (power cycle, program download): both counters restart at 0."""
        self.count_total = 0
        self.count_good = 0
