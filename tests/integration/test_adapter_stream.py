"""The whole way in: the simulator's devices over MQTT → `iiot adapter`'s runner → Kafka →
`iiot stream`; the worker's OEE windows equal the reference computed from the simulator's
own samples (the adapter renumbers seqs; windows depend on time, state and counters)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from iiot.settings import Settings
from producers.adapters.runner import Adapter
from simulators.serve import mqtt as served
from tests.integration.adapter_support import load, run_adapter
from tests.integration.mqtt_support import (
    HOST,
    SHARED_PORT,
    assert_one_for_one,
    expected,
    forget_session,
    simulation,
)
from tests.integration.test_streams import reference, start_worker, stop, wait_for

pytestmark = pytest.mark.integration

DEVICES, DURATION_S, SPEED = 4, 600, 100  # ten factory minutes in six seconds


def test_the_stream_gives_the_simulators_own_windows(
    tmp_path: Path, stream_settings: Settings
) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}"
    births = simulation(DEVICES, DURATION_S).births()
    loaded = load(served.mapping(births, HOST, SHARED_PORT, root=root), tmp_path / "m.yaml")

    async def during(_: Adapter) -> None:
        await asyncio.sleep(0.5)
        await served.serve(simulation(DEVICES, DURATION_S), SPEED, HOST, SHARED_PORT, root=root)
        await asyncio.sleep(1)

    async def main() -> tuple[Adapter, list[Any]]:
        try:
            return await run_adapter(loaded, stream_settings, tmp_path / "spool", during)
        finally:
            await forget_session(SHARED_PORT, f"iiot-adapter-{loaded.name}")

    adapter, samples = asyncio.run(main())
    assert adapter.status.invalid == 0
    assert_one_for_one(samples, expected(DEVICES, DURATION_S))

    events = list(simulation(DEVICES, DURATION_S).run())
    windows, dead = reference(stream_settings, events, [0] * len(events))
    assert dead == 0 and sum(1 for key in windows if key.startswith("device:")) >= DEVICES * 10
    worker = start_worker(stream_settings)
    try:
        wait_for(stream_settings, windows, 0, timeout_s=120)
    finally:
        stop(worker)
