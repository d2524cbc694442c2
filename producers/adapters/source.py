"""What every protocol's source is to the runner: read its devices for ever, hand each
reading's raw values over, and come back after a lost connection."""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from producers.adapters import mapping as m

log = logging.getLogger(__name__)

# device_id, raw values by the field names of `DeviceMapping.points()`, the device's own
# time of the reading (None: now, as the adapter read it).
Emit = Callable[[str, Mapping[str, Any], datetime | None], None]


class SourceError(Exception):
    """One line for the integrator: which source, and what went wrong."""


@dataclass(slots=True)
class Status:
    """What the live status line shows, per adapter run."""

    devices: int = 0
    sources: int = 0  # connections to hold: one per mapping file
    readings: int = 0  # handed to the Publisher
    invalid: int = 0  # refused by the contract (dead-lettered)
    duplicates: int = 0  # the same device time again (a redelivery): not sent twice
    connected: int = 0  # sources connected now
    reconnects: int = 0  # connections lost and made again


class Source(Protocol):
    """One connection to one protocol server (or broker) and the devices of one mapping."""

    async def run(self, emit: Emit, status: Status) -> None:
        """Connect, read or subscribe, `emit` every reading, for ever. On a lost connection:
        log it once, `status.reconnects += 1`, wait (`Backoff`), connect again. Stopped by
        cancellation."""

    async def probe(self) -> dict[str, dict[str, Any]]:
        """Connect once and read each device's points once: device_id → raw values.
        Raises `SourceError` when the source cannot be reached or a point cannot be read."""


class Backoff:
    """Seconds to wait before the next connection attempt: doubling from `first_s` to
    `max_s`, with jitter (devices restarted together do not come back in step)."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self._next = first_s

    def reset(self) -> None:
        self._next = self.first_s

    async def wait(self) -> None:
        delay = self._next * random.uniform(0.8, 1.2)
        self._next = min(self._next * 2, self.max_s)
        await asyncio.sleep(delay)


_MODULES = {
    "modbus": "producers.adapters.modbus",
    "opcua": "producers.adapters.opcua",
    "mqtt": "producers.adapters.mqtt_json",
    "sparkplug": "producers.adapters.sparkplug",
}


def source_for(mapping: m.Mapping, name: str) -> Source:
    """The source of `mapping`'s protocol; its module (and client library) is imported only
    now. `name` (the file's) names its client where the protocol wants one."""
    module = importlib.import_module(_MODULES[mapping.protocol])
    source: Source = module.Source(mapping, name)
    return source
