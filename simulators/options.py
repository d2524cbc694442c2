"""What a simulation run is asked to do: size, seed, clock and fault rates."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

DEFAULT_START = datetime(2026, 11, 26, tzinfo=UTC)  # fixed, so a default run is reproducible

Rate = Field(0.0, ge=0.0, le=1.0)


class FaultRates(BaseModel):
    """Probability per sample of each injected fault; all off by default.

    `gap` is the chance that a device goes offline at a sample (for 5–30 intervals, longer
    than max_gap); the others apply to one sample each. At most one of duplicate,
    out_of_order, late, clock_skew and malformed hits a sample, so their sum is at most 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicate: float = Rate
    out_of_order: float = Rate
    late: float = Rate
    gap: float = Rate
    counter_reset: float = Rate
    clock_skew: float = Rate
    malformed: float = Rate

    @model_validator(mode="after")
    def _one_per_sample(self) -> FaultRates:
        total = self.duplicate + self.out_of_order + self.late + self.clock_skew + self.malformed
        if total > 1:
            raise ValueError(f"per-sample fault rates add up to {total:g}; at most 1")
        return self

    @classmethod
    def parse(cls, text: str) -> FaultRates:
        """From the CLI's `duplicate=0.01,late=0.001` (empty = none)."""
        pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"faults look like 'duplicate=0.01,late=0.001', not {text!r}")
        return cls.model_validate({k.strip(): float(v) for k, v in pairs})

    def any(self) -> bool:
        return any(rate > 0 for rate in self.model_dump().values())


class SimulationOptions(BaseModel):
    """Same options and seed → byte-identical output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    devices: int = Field(100, ge=1, le=200_000, description="How many devices to simulate.")
    start: AwareDatetime = Field(DEFAULT_START, description="Simulated time of the first sample.")
    duration_s: float | None = Field(
        3_600.0, gt=0, description="Simulated seconds to run; None = until stopped."
    )
    faults: FaultRates = FaultRates()
    # True: every registered device reports from the start, without reporting gaps — not
    # the province of simulators/maturity.py, but a stream for tests that need every device.
    every_device_reports: bool = False
    grace_s: int = Field(120, ge=0, description="The pipeline's grace; late = beyond it.")
    future_tolerance_s: int = Field(300, ge=0, description="Skewed samples lie beyond it.")
    # A share of the province for one of several processes (`iiot simulate --workers`):
    # devices shard, shard + shards, shard + 2 × shards, … Each device's records are the
    # same whichever shard makes them.
    shard: int = Field(0, ge=0, description="Which share of the devices this run makes.")
    shards: int = Field(1, ge=1, description="Into how many shares the devices are dealt.")

    @model_validator(mode="after")
    def _shard_in_range(self) -> SimulationOptions:
        if self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} of {self.shards}: shards count from 0")
        return self

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int | None:
        return None if self.duration_s is None else self.start_ms + int(self.duration_s * 1000)
