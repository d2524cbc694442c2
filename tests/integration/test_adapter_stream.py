"""The whole way in: the simulator's devices over MQTT (JSON or Sparkplug B: both carry the
device's time) → `iiot adapter`'s runner → Kafka →
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
from simulators.serve import mqtt, sparkplug
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
# The served protocol, and the keyword that keeps a test's topics apart on the shared broker.
SERVED = {"mqtt": (mqtt, "root"), "sparkplug": (sparkplug, "group_prefix")}


@pytest.mark.parametrize("protocol", list(SERVED))
def test_the_stream_gives_the_simulators_own_windows(
    protocol: str, tmp_path: Path, stream_settings: Settings
) -> None:
    served, keyword = SERVED[protocol]
    apart: dict[str, Any] = {keyword: f"t{uuid.uuid4().hex[:8]}-"}
    births = simulation(DEVICES, DURATION_S).births()
    document = served.mapping(births, HOST, SHARED_PORT, **apart)  # type: ignore[attr-defined]
    loaded = load(document, tmp_path / f"{protocol}.yaml")

    async def during(_: Adapter) -> None:
        await asyncio.sleep(0.5)
        sim = simulation(DEVICES, DURATION_S)
        await served.serve(sim, SPEED, HOST, SHARED_PORT, **apart)  # type: ignore[attr-defined]
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
