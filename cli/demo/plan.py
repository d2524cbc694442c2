"""What one demo run is: its size and speed, and the names that keep it apart from others.

Every run gets its own topic prefix (`demo-<run id>.`), database schema (`demo_<run id>`)
and directory (`.demo/<run id>/`), so a second run — or a test running beside a user's
demo on the same broker — never sees another run's data.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from iiot.settings import Settings

DEMO_EMIT_INTERVAL_S = 5.0


def new_run_id(now: datetime | None = None) -> str:
    """`20261126-142500-3f9a`: sortable by start, unique even for runs in the same second."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def default_start(now: datetime | None = None, factory_s: float = 0.0) -> datetime:
    """Today 00:00 UTC = 08:00 China Standard Time, when the morning shift begins — or
    yesterday's, while today's run would still end ahead of the wall clock.

    Anchoring to the shift calendar (not to the wall clock) means every plant is producing
    during the demo's hours, so every enterprise has planned time and an OEE; a start at
    "now" would fall into two-shift plants' night stop for a third of the day. The run must
    lie in the past: Kafka stamps telemetry with its event time and refuses records more
    than an hour ahead (`log.message.timestamp.after.max.ms`), so a demo started at 00:30
    UTC lost every sample after 01:30 of factory time.
    """
    now = now or datetime.now(UTC)
    start = datetime.combine(now.date(), time(0), tzinfo=UTC)
    if start + timedelta(seconds=factory_s) > now:
        start -= timedelta(days=1)
    return start


class RunNames:
    """A run's own names, as cli.demo.probe and the parts read them: a subclass gives
    `settings` (the user's), `topic_prefix`, `schema` and `run_dir`."""

    settings: Settings

    @property
    def topic_prefix(self) -> str:
        raise NotImplementedError

    @property
    def schema(self) -> str:
        raise NotImplementedError

    @property
    def run_dir(self) -> Path:
        raise NotImplementedError

    def run_settings(self) -> Settings:
        """The settings every part of this run sees."""
        return self.settings.model_copy(
            update={"topic_prefix": self.topic_prefix, "pg_schema": self.schema}
        )

    def names_env(self) -> dict[str, str]:
        """The user's environment, plus this run's names."""
        return dict(os.environ) | {
            "IIOT_TOPIC_PREFIX": self.topic_prefix,
            "IIOT_PG_SCHEMA": self.schema,
            "F_DATADIR": str(self.run_dir / "stream-data"),  # Faust's state, not in the cwd
            "PYTHONUNBUFFERED": "1",  # logs reach the file as they happen
        }

    def stream_group(self) -> str:
        return f"{self.topic_prefix}iiot-streams"  # the Faust app id is its consumer group

    def sink_group(self) -> str:
        return f"{self.topic_prefix}{self.settings.sink_group}"


@dataclass(frozen=True)
class DemoPlan(RunNames):
    devices: int
    speed: float  # factory seconds per wall second
    wall_s: float  # how long the simulator publishes, in wall seconds
    seed: int
    faults: str  # `NAME=RATE,…` as `iiot simulate --fault` takes it
    start: datetime  # factory time of the first sample
    run_id: str
    home: Path  # where run directories live (.demo/)
    settings: Settings  # the user's settings; the run's own names are added to them

    @property
    def factory_s(self) -> float:
        return self.wall_s * self.speed

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.factory_s)

    @property
    def topic_prefix(self) -> str:
        return f"{self.settings.topic_prefix}demo-{self.run_id}."

    @property
    def schema(self) -> str:
        return "demo_" + self.run_id.replace("-", "_")

    @property
    def run_dir(self) -> Path:
        return self.home / self.run_id

    @property
    def emit_interval_s(self) -> float:
        """How often the worker emits changed windows: 5 s unless the user set it.

        At 60× a window closes every wall second; every 5 s (5 factory minutes) sends each
        about once instead of 2–3 times, which the worker's throughput needs."""
        if "IIOT_STREAM_EMIT_INTERVAL_S" in os.environ:
            return self.settings.stream_emit_interval_s
        return DEMO_EMIT_INTERVAL_S

    def child_env(self) -> dict[str, str]:
        """The environment of the parts: the user's, plus this run's names."""
        return self.names_env() | {
            "IIOT_STREAM_EMIT_INTERVAL_S": f"{self.emit_interval_s:g}",
            "IIOT_SPOOL_PATH": str(self.run_dir / "spool.sqlite"),
        }
