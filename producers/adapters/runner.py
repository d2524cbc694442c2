"""An adapter run: the sources of one or more mapping files, their readings through one
Publisher. The Publisher does the rest: seqs (a reading from a device has none), the spool
while Kafka is away, the contract at the edge and dead letters with their reasons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iiot.oee import to_ms
from producers.adapters import assemble
from producers.adapters import mapping as m
from producers.adapters.source import Source, SourceError, Status, source_for
from producers.publisher import Publisher, ReadingRejected
from producers.spool import SpoolFull

log = logging.getLogger(__name__)

_TICK_S = 0.1  # how often the Publisher is served and the stop flag read


@dataclass(frozen=True)
class Loaded:
    """A mapping file, read and checked."""

    name: str  # the file's, for the logs and MQTT client ids
    mapping: m.Mapping


class Adapter:
    """Readings of the mapped devices → the Publisher; `status` for the live line."""

    def __init__(self, files: Sequence[Loaded], publisher: Publisher) -> None:
        self.publisher = publisher
        self.status = Status()
        self._devices: dict[str, m.DeviceMapping[Any]] = {}
        for file in files:
            for device in file.mapping.devices:
                if device.device_id in self._devices:
                    raise SourceError(f"{file.name}: device {device.device_id} is mapped twice")
                self._devices[device.device_id] = device
        self.status.devices, self.status.sources = len(self._devices), len(files)
        self._files = list(files)
        self._last_ms: dict[str, int] = {}
        self._warned: set[tuple[str, str]] = set()

    def emit(self, device_id: str, values: Mapping[str, Any], ts: datetime | None) -> None:
        """One reading of a device, as a source read it (the `Emit` of every source)."""
        device = self._devices[device_id]
        at = ts if ts is not None else datetime.now(UTC)
        at_ms = to_ms(at if at.tzinfo else at.replace(tzinfo=UTC))
        if self._last_ms.get(device_id) == at_ms:  # a redelivered message: sent already
            self.status.duplicates += 1
            return
        self._last_ms[device_id] = at_ms
        try:
            self.publisher.publish_reading(assemble.reading(device, values, at))
        except ReadingRejected as rejected:  # dead-lettered with its reason by the Publisher
            self.status.invalid += 1
            if (device_id, rejected.reason) not in self._warned:  # once per device and reason
                self._warned.add((device_id, rejected.reason))
                log.warning("%s: reading refused (dead-lettered): %s%s", device_id,
                            rejected.reason, unmapped_hint(device, values))  # fmt: skip
        except SpoolFull:
            pass  # counted by the Publisher (refused); the device's next reading may go
        else:
            self.status.readings += 1

    async def run(self, stop: Callable[[], bool], tick: Callable[[], None] | None = None) -> None:
        """Announce the devices that have births, read until `stop()`, then flush. A source
        that gives up (`SourceError`: its configuration cannot work) stops the run with it."""
        for file in self._files:
            for birth in file.mapping.births():
                self.publisher.publish_birth(birth)
        sources: list[Source] = [source_for(f.mapping, f.name) for f in self._files]
        tasks = [asyncio.create_task(s.run(self.emit, self.status)) for s in sources]
        try:
            while not stop():
                done = [task for task in tasks if task.done()]
                if done:
                    done[0].result()  # raises what stopped it
                    raise SourceError("a source stopped without an error")
                self.publisher.poll(0)
                if tick is not None:
                    tick()
                await asyncio.sleep(_TICK_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def unmapped_hint(device: m.DeviceMapping[Any], values: Mapping[str, Any]) -> str:
    """What to do about a state code the device's table lacks (the contract only sees a
    state it does not know): `` (state code 7 is not in state_codes)``, or nothing."""
    if "state" not in values or m.code_text(values["state"]) in device.state_codes:
        return ""
    return f" (state code {m.code_text(values['state'])} is not in state_codes)"


async def probe(file: Loaded) -> dict[str, dict[str, Any]]:
    """Each device's points read once (`iiot adapter check --probe`)."""
    return await source_for(file.mapping, file.name).probe()
