"""What a served device shows: the simulator's samples as a device's own values, paced.

A served device speaks like a machine, not like the contract: its state is a vendor code
(`CODES`: state and downtime reason in one number, as many controllers report them), its
counters and process values are plain numbers. The example mapping files map them back, so
what an adapter publishes equals the simulator's own samples (the tests compare them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from iiot.topics import Topic
from iiot.types import State
from simulators.simulation import Emitted

# The served devices' own state codes, as a controller's status word might have them: one
# per state, and one per state and downtime reason the simulator gives (simulators/
# machine.py). A code, once served, never changes its meaning: add new ones at the end.
CODES: dict[int, tuple[State, str | None]] = {
    1: ("running", None),
    2: ("idle", None),
    3: ("setup", None),
    4: ("down", None),
    5: ("planned_stop", None),
    21: ("idle", "no_material"),
    22: ("idle", "micro_stop"),
    31: ("setup", "changeover"),
    41: ("down", "breakdown"),
}
_CODE_OF = {meaning: code for code, meaning in CODES.items()}


def code_of(state: State, reason: str | None) -> int:
    """The vendor code of a state and reason; an unlisted reason serves the state's own."""
    return _CODE_OF.get((state, reason), _CODE_OF[(state, None)])


def state_codes() -> dict[int, dict[str, str] | str]:
    """`CODES` as a mapping file's `state_codes` table."""
    return {
        code: state if reason is None else {"state": state, "reason": reason}
        for code, (state, reason) in CODES.items()
    }


@dataclass(frozen=True, slots=True)
class Served:
    """One sample as the device shows it: values by the field names of a mapping's points
    ("state" is the vendor code; "metrics.<name>")."""

    device_id: str
    ts: datetime
    timestamp_ms: int
    values: dict[str, Any]
    sample: dict[str, Any]  # the simulator's own sample, as published to Kafka


def served(sample: dict[str, Any]) -> dict[str, Any]:
    """The device's values of one contract sample."""
    values: dict[str, Any] = {
        "state": code_of(sample["state"], sample.get("reason")),
        "count_total": sample["count_total"],
        "count_good": sample["count_good"],
    }
    if sample.get("ideal_cycle_s") is not None:
        values["ideal_cycle_s"] = sample["ideal_cycle_s"]
    for name, value in sample.get("metrics", {}).items():
        values[f"metrics.{name}"] = value
    return values


def samples(events: Iterable[Emitted]) -> Iterable[tuple[Emitted, dict[str, Any]]]:
    """The simulator's valid telemetry records, decoded (births and injected faults aside)."""
    for event in events:
        if event.topic is Topic.TELEMETRY and event.valid:
            yield event, orjson.loads(event.value)


async def feed(events: Iterable[Emitted], speed: float | None) -> AsyncIterator[Served]:
    """Each sample when it is due: `speed`× real time from the first (None: at once)."""
    first_ms: int | None = None
    wall0 = time.monotonic()
    for event, sample in samples(events):
        due_ms = event.timestamp_ms if event.due_ms is None else event.due_ms
        if first_ms is None:
            first_ms = due_ms
        if speed:
            ahead = wall0 + (due_ms - first_ms) / 1000 / speed - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        ts = datetime.fromisoformat(sample["ts"])
        yield Served(sample["device_id"], ts, event.timestamp_ms, served(sample), sample)
