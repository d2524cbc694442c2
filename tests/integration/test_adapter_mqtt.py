"""The MQTT (JSON) adapter against the simulator publishing to a real Mosquitto: every
reading equals the served sample, bad payloads warned once, the probe, the samples on Kafka
one for one with the simulator's, and a broker restart with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from iiot.settings import Settings
from producers.adapters import mapping as m
from producers.adapters.mqtt_json import Source
from producers.adapters.runner import Adapter
from producers.adapters.source import SourceError, Status
from simulators.serve import mqtt as served
from tests.integration.adapter_support import load, run_adapter
from tests.integration.mqtt_support import (
    HOST,
    SHARED_PORT,
    Mosquitto,
    assert_one_for_one,
    expected,
    forget_session,
    mosquitto,
    simulation,
    values_of,
)

pytestmark = pytest.mark.integration
__all__ = ["mosquitto"]  # the fixture, imported

SPEED = 10


def mapped(tmp_path: Path, port: int, root: str, **sim: Any) -> m.MqttMapping:
    loaded = load(
        served.mapping(simulation(**sim).births(), HOST, port, root=root), tmp_path / "m.yaml"
    )
    assert isinstance(loaded.mapping, m.MqttMapping)
    return loaded.mapping


def test_every_reading_is_the_served_sample(tmp_path: Path) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}"
    source = Source(mapped(tmp_path, SHARED_PORT, root), f"json-{root}")
    got: list[tuple[str, dict[str, Any], datetime | None]] = []

    async def main() -> None:
        task = asyncio.create_task(
            source.run(lambda d, v, ts: got.append((d, dict(v), ts)), Status())
        )
        await asyncio.sleep(0.5)
        await served.serve(simulation(), SPEED, HOST, SHARED_PORT, root=root)
        await asyncio.sleep(0.5)
        task.cancel()
        await forget_session(SHARED_PORT, source.client_id)

    asyncio.run(main())
    want = expected()
    assert [(d, v) for d, v, _ in got] == [(d, values_of(s)) for d, s in want]
    assert [
        ts.isoformat(timespec="milliseconds").replace("+00:00", "Z") for _, _, ts in got if ts
    ] == [s["ts"] for _, s in want]


def test_bad_payloads_leave_values_out_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}"
    mapping = mapped(tmp_path, SHARED_PORT, root, devices=1)
    device = mapping.devices[0]
    source = Source(mapping, f"json-{root}")
    got: list[tuple[dict[str, Any], datetime | None]] = []

    async def main() -> None:
        task = asyncio.create_task(source.run(lambda d, v, ts: got.append((dict(v), ts)), Status()))
        await asyncio.sleep(0.5)
        async with aiomqtt.Client(HOST, SHARED_PORT) as mqtt:
            for payload in [
                b"{not json",
                b"[1]",
                b'{"ts": 1795651200011, "status": {"code": 10}}',
            ] * 3:
                await mqtt.publish(device.topic, payload, qos=1)
        await asyncio.sleep(0.5)
        task.cancel()
        await forget_session(SHARED_PORT, source.client_id)

    with caplog.at_level(logging.WARNING, logger="producers.adapters.mqtt_client"):
        asyncio.run(main())
    assert len(got) == 9
    assert got[0] == ({}, None) and got[1] == ({}, None)
    assert got[2][0] == {"state": 10}
    assert got[2][1] is not None and got[2][1].isoformat() == "2026-11-26T00:00:00.011000+00:00"
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("not JSON" in w for w in warnings) == 1
    assert sum("'counters.total'" in w for w in warnings) == 1, warnings


def test_probe_finds_each_device_and_names_a_silent_one(tmp_path: Path) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}"
    mapping = mapped(tmp_path, SHARED_PORT, root)
    silent = mapping.devices[0].model_copy(
        update={"device_id": "silent-1", "topic": f"{root}/nobody"}
    )
    both = mapping.model_copy(update={"devices": [*mapping.devices, silent]})

    async def main() -> tuple[dict[str, Any], str]:
        serving = asyncio.create_task(
            served.serve(simulation(duration_s=600), SPEED, HOST, SHARED_PORT, root=root)
        )
        try:
            found = await Source(mapping, f"probe-{root}").probe()
            with pytest.raises(SourceError) as raised:
                await Source(both, f"probe-{root}").probe()
        finally:
            serving.cancel()
        return found, str(raised.value)

    found, error = asyncio.run(main())
    assert found.keys() == {d.device_id for d in mapping.devices}
    assert all("state" in v and "metrics.power_kw" in v for v in found.values())
    assert "silent-1" in error and f"{root}/nobody" in error
    assert not any(d.device_id in error for d in mapping.devices)


def test_served_to_kafka_one_for_one(tmp_path: Path, stream_settings: Settings) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}"
    loaded = load(
        served.mapping(simulation().births(), HOST, SHARED_PORT, root=root), tmp_path / "m.yaml"
    )

    async def during(adapter: Adapter) -> None:
        await asyncio.sleep(0.5)
        await served.serve(simulation(), SPEED, HOST, SHARED_PORT, root=root)
        await asyncio.sleep(1)

    async def main() -> tuple[Adapter, list[Any]]:
        try:
            return await run_adapter(loaded, stream_settings, tmp_path / "spool", during)
        finally:
            await forget_session(SHARED_PORT, f"iiot-adapter-{loaded.name}")

    adapter, samples = asyncio.run(main())
    assert adapter.status.invalid == 0 and adapter.status.duplicates == 0
    assert_one_for_one(samples, expected())


def test_broker_restart_loses_and_doubles_nothing(
    tmp_path: Path, stream_settings: Settings, mosquitto: Mosquitto
) -> None:
    """A Mosquitto of the test's own, restarted mid-run (down 1.5 s): the adapter's
    persistent session gets what was queued, the simulator publishes again what was in
    flight, the runner drops a second copy; on Kafka every sample once, seqs 1..n."""
    root = f"test-{uuid.uuid4().hex[:8]}"
    duration = 100
    loaded = load(
        served.mapping(simulation(duration_s=duration).births(), HOST, mosquitto.port, root=root),
        tmp_path / "m.yaml",
    )
    stats = served.Stats()

    async def during(adapter: Adapter) -> None:
        await asyncio.sleep(0.5)
        serving = asyncio.create_task(
            served.serve(
                simulation(duration_s=duration), SPEED, HOST, mosquitto.port, root=root, stats=stats
            )
        )
        await asyncio.sleep(3)
        await mosquitto.restart(1.5)
        await serving
        await asyncio.sleep(2)
        assert adapter.status.reconnects >= 1

    adapter, samples = asyncio.run(run_adapter(loaded, stream_settings, tmp_path / "spool", during))
    assert stats.reconnects >= 1
    assert adapter.status.invalid == 0
    assert_one_for_one(samples, expected(duration_s=duration))
