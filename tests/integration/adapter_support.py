"""What the Modbus and OPC UA adapter tests share: a served simulation whose samples are
kept, an adapter run in-process against it, its samples read back from Kafka and compared
with what was served."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iiot.contract import decode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic, name
from producers.adapters.mapping import MAPPING, Mapping
from producers.adapters.runner import Adapter, Loaded
from producers.publisher import Publisher
from simulators import Simulation, SimulationOptions
from simulators.serve.feed import Served, feed
from simulators.serve.serving import Network, feed_into
from tests.integration.telemetry_reader import one_sample_records, read_topic


def free_port() -> int:
    """A port free now, below the ephemeral range: a server stopped in a test and started
    again finds it still free (an outgoing connection of any process on the machine may take
    an ephemeral port the moment it is let go)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768
    for _ in range(200):
        port = random.randrange(10_000, max(low, 10_001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class Feeding:
    """A simulation fed into a server (listening once every device has a sample), every
    sample kept in the order served."""

    server: Network
    served: list[Served] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def start(self, simulation: Simulation, speed: float | None) -> None:
        """Feeding, and the server listening."""

        async def kept() -> AsyncIterator[Served]:
            async for sample in feed(simulation.run(), speed):
                self.served.append(sample)
                yield sample

        self.task = asyncio.create_task(feed_into(self.server, kept()))
        while not self.server.listening:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def by_device(self) -> dict[str, list[dict[str, Any]]]:
        samples: dict[str, list[dict[str, Any]]] = {}
        for s in self.served:
            samples.setdefault(s.device_id, []).append(s.sample)
        return samples


def simulation(devices: int, duration_s: float = 3_600) -> Simulation:
    """Every device reporting: the adapters are under test, not the province's maturity."""
    options = SimulationOptions(
        devices=devices, seed=7, duration_s=duration_s, every_device_reports=True
    )
    return Simulation(options)


def load(document: dict[str, Any], path: Path, interval_factor: float = 1.0) -> Loaded:
    """The mapping as a file would give it (through YAML), each device's interval × factor
    (a simulation served at 10× is read 10× as often)."""
    for device in document["devices"]:
        device["sample_interval_s"] = device["sample_interval_s"] * interval_factor
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    mapping: Mapping = MAPPING.validate_python(yaml.safe_load(path.read_text()))
    return Loaded(path.name, mapping)


async def run_adapter(
    loaded: Loaded, settings: Settings, spool: Path, during: Callable[[Adapter], Awaitable[None]]
) -> tuple[Adapter, list[Sample]]:
    """The adapter in-process while `during` runs; then its samples as Kafka has them."""
    publisher = Publisher(settings, spool)
    adapter = Adapter([loaded], publisher)
    stopped = False
    running = asyncio.create_task(adapter.run(lambda: stopped))
    try:
        await during(adapter)
    finally:
        stopped = True
        await running
        publisher.close()
    messages = read_topic(
        settings, name(Topic.TELEMETRY, settings), adapter.status.readings, timeout_s=20
    )
    samples = [decode(Sample, r.value) for r in one_sample_records(messages)]
    return adapter, samples


def close(a: Any, b: Any) -> bool:
    """Equal; numbers with a fraction within 1e-12 (a scale such as 0.01 is one rounding)."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def same(published: Sample, served: dict[str, Any]) -> bool:
    """The published sample has the served sample's state, reason, counters, ideal cycle
    and metrics."""
    got = published.model_dump(mode="json")
    for key in ("state", "reason", "count_total", "count_good"):
        if got.get(key) != served.get(key):
            return False
    if not close(got["ideal_cycle_s"], served["ideal_cycle_s"]):
        return False
    mine, theirs = got.get("metrics") or {}, served.get("metrics") or {}
    return mine.keys() == theirs.keys() and all(close(mine[k], theirs[k]) for k in mine)


def check_published(
    samples: list[Sample], served: dict[str, list[dict[str, Any]]]
) -> dict[str, list[Sample]]:
    """Per device: seqs 1..n without gaps or doubles, counters never back, every sample one
    that was served, the last one the last served."""
    per_device: dict[str, list[Sample]] = {}
    for sample in samples:
        per_device.setdefault(sample.device_id, []).append(sample)
    assert per_device.keys() == served.keys()
    for device_id, mine in per_device.items():
        seqs = sorted(s.seq for s in mine)
        assert seqs == list(range(1, len(mine) + 1)), f"{device_id}: seqs {seqs}"
        mine.sort(key=lambda s: s.seq)
        totals = [s.count_total for s in mine]
        assert totals == sorted(totals), f"{device_id}: counters went back: {totals}"
        for sample in mine:
            assert any(same(sample, s) for s in served[device_id]), (
                f"{device_id} seq {sample.seq}: {sample.model_dump(mode='json')} was never served"
            )
        last = served[device_id][-1]
        assert same(mine[-1], last), f"{device_id}: last {mine[-1]} is not the last served {last}"
    return per_device


def through_a_restart(
    sim: Simulation, server: Network, loaded: Loaded, settings: Settings, tmp_path: Path,
    speed: float,
) -> tuple[Adapter, dict[str, list[Sample]]]:  # fmt: skip
    """The simulation served at `speed` and read by the adapter; 3 s in, the server stops for
    2 s and starts again (the feed goes on); once the adapter is connected again, 3 s more,
    then the feed stops and the last values are read a few times more. Checks the reconnect
    and what is on Kafka (`check_published`); gives the adapter and the samples by device."""
    feeding = Feeding(server)

    async def during(adapter: Adapter) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3)
        await server.stop()
        await asyncio.sleep(2)
        await server.start()
        deadline = loop.time() + 15
        while adapter.status.reconnects == 0 or adapter.status.connected == 0:
            assert loop.time() < deadline, f"not connected again: {adapter.status}"
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)
        await feeding.stop()
        await asyncio.sleep(1.5)

    async def main() -> tuple[Adapter, list[Sample]]:
        await feeding.start(sim, speed)
        try:
            return await run_adapter(loaded, settings, tmp_path / "spool", during)
        finally:
            await feeding.stop()
            await server.stop()

    adapter, samples = asyncio.run(main())
    assert adapter.status.reconnects >= 1
    assert adapter.status.invalid == 0
    return adapter, check_published(samples, feeding.by_device())
