"""Kafka away while the device's server restarts, on a private broker (the shared one keeps
running): the adapter reconnects to the device, the Publisher spools the readings and
drains them when Kafka is back — on Kafka every reading once (a record the Kafka client
gave back may come twice, as docs/guarantees.md says, and is dropped by (device_id, seq))."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from iiot import kafka_admin
from iiot.messages import Sample
from iiot.settings import Settings
from producers.adapters.runner import Adapter
from producers.publisher import Mode
from simulators.serve import modbus as served
from tests.integration.adapter_support import (
    Feeding,
    check_published,
    free_port,
    load,
    run_adapter,
    simulation,
)
from tests.integration.private_stack import PrivateStack

pytestmark = pytest.mark.integration

SPEED = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    private = PrivateStack(tmp_path_factory.mktemp("adapter-stack"))
    private.up("kafka")
    yield private
    private.purge()


async def until(what: str, done: object, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done():  # type: ignore[operator]
        assert loop.time() < deadline, f"not {what} within {timeout_s:.0f} s"
        await asyncio.sleep(0.1)


def test_kafka_away_while_the_device_restarts_loses_and_doubles_nothing(
    stack: PrivateStack, tmp_path: Path
) -> None:
    settings: Settings = stack.settings(topic_prefix=f"adapter-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    sim = simulation(3)
    port = free_port()
    loaded = load(served.mapping(sim.births(), "127.0.0.1", port), tmp_path / "m.yaml", 1 / SPEED)
    server = served.ModbusServed(served.Units(sim.births()), "127.0.0.1", port)
    feeding = Feeding(server)

    async def during(adapter: Adapter) -> None:
        publisher = adapter.publisher
        await asyncio.sleep(2)
        await asyncio.to_thread(stack.down, "kafka")
        await server.stop()
        await asyncio.sleep(2)
        await server.start()
        await until("connected again", lambda: adapter.status.reconnects >= 1
                    and adapter.status.connected == 1, 15)  # fmt: skip
        await until("spooling", lambda: publisher.counters.spooled > 0, 30)
        await asyncio.sleep(2)  # readings go on into the spool
        await asyncio.to_thread(stack.up, "kafka")
        await until("drained", lambda: publisher.mode is Mode.LIVE and not len(publisher.spool),
                    90)  # fmt: skip
        await asyncio.sleep(2)
        await feeding.stop()
        await asyncio.sleep(1.5)

    async def main() -> tuple[Adapter, list[Sample]]:
        await feeding.start(sim, SPEED)
        try:
            return await run_adapter(loaded, settings, tmp_path / "spool", during)
        finally:
            await feeding.stop()
            await server.stop()

    adapter, samples = asyncio.run(main())
    counters = adapter.publisher.counters
    assert counters.outages >= 1 and counters.spooled > 0 and counters.drained > 0
    assert adapter.status.invalid == 0 and counters.refused == 0
    once = {(s.device_id, s.seq): s for s in samples}
    assert len(samples) - len(once) <= counters.taken_back
    assert len(once) == adapter.status.readings
    check_published(list(once.values()), feeding.by_device())
