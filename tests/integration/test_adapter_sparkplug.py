"""The Sparkplug B adapter (a host application) against the simulator's edge nodes on a real
Mosquitto: every reading equals the served sample, the payload codec, the probe, the samples
on Kafka one for one, a broker restart with nothing lost or doubled, and an adapter started
after the edge nodes asking for their births."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from iiot import sparkplug_b as spb
from iiot.settings import Settings
from producers.adapters import mapping as m
from producers.adapters.runner import Adapter
from producers.adapters.source import SourceError, Status
from producers.adapters.sparkplug import Source
from simulators.serve import sparkplug as served
from simulators.serve.mqtt import Stats
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


def mapped(tmp_path: Path, port: int, prefix: str, **sim: Any) -> m.SparkplugMapping:
    births = simulation(**sim).births()
    loaded = load(served.mapping(births, HOST, port, group_prefix=prefix), tmp_path / "s.yaml")
    assert isinstance(loaded.mapping, m.SparkplugMapping)
    return loaded.mapping


def test_payload_round_trip() -> None:
    metrics = (
        spb.Metric("Status/Code", spb.DataType.INT32, -7, alias=1, timestamp=5),
        spb.Metric(None, spb.DataType.INT64, 2**63 - 1, alias=2),
        spb.Metric("u", spb.DataType.UINT32, 4_000_000_000),
        spb.Metric("d", spb.DataType.DOUBLE, 181.23),
        spb.Metric("gone", spb.DataType.DOUBLE, None),
        spb.Metric(spb.REBIRTH, spb.DataType.BOOLEAN, True),
        spb.Metric("s", spb.DataType.STRING, "FRIDGE-DOOR-A"),
    )
    payload = spb.Payload(1_795_651_200_011, 255, metrics)
    assert spb.decode(spb.encode(payload)) == payload
    with pytest.raises(spb.PayloadError):
        spb.decode(b"\xff\xff\xff")
    assert spb.parse_topic("spBv1.0/g/DDATA/n/d") == spb.Topic("g", "DDATA", "n", "d")
    assert spb.parse_topic("spBv1.0/STATE/host") is None


def test_every_reading_is_the_served_sample(tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    source = Source(mapped(tmp_path, SHARED_PORT, prefix), f"spb-{prefix}")
    got: list[tuple[str, dict[str, Any], datetime | None]] = []

    async def main() -> None:
        emit = lambda d, v, ts: got.append((d, dict(v), ts))  # noqa: E731
        task = asyncio.create_task(source.run(emit, Status()))
        await asyncio.sleep(0.5)
        await served.serve(simulation(), SPEED, HOST, SHARED_PORT, group_prefix=prefix)
        await asyncio.sleep(0.5)
        task.cancel()
        await forget_session(SHARED_PORT, source.client_id)

    asyncio.run(main())
    want = expected()
    assert [(d, v) for d, v, _ in got] == [(d, values_of(s)) for d, s in want]
    times = [ts.isoformat(timespec="milliseconds").replace("+00:00", "Z") for _, _, ts in got if ts]
    assert times == [s["ts"] for _, s in want]
    assert source.rebirths_asked == 0


def test_probe_gets_births_and_names_a_missing_device(tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    mapping = mapped(tmp_path, SHARED_PORT, prefix)
    ghost = mapping.devices[0].model_copy(update={"device_id": "ghost-1", "device": "ghost-1"})
    both = mapping.model_copy(update={"devices": [*mapping.devices, ghost]})
    stats = Stats()

    async def main() -> tuple[dict[str, Any], str]:
        serving = asyncio.create_task(
            served.serve(
                simulation(duration_s=600), SPEED, HOST, SHARED_PORT, group_prefix=prefix,
                stats=stats,
            )
        )  # fmt: skip
        await asyncio.sleep(2)  # every device has had its first sample, so its DBIRTH
        try:
            found = await Source(mapping, f"probe-{prefix}").probe()
            with pytest.raises(SourceError) as raised:
                await Source(both, f"probe-{prefix}").probe()
        finally:
            serving.cancel()
        return found, str(raised.value)

    found, error = asyncio.run(main())
    assert stats.rebirths >= 1
    assert found.keys() == {d.device_id for d in mapping.devices}
    assert all("state" in v and "metrics.power_kw" in v for v in found.values())
    assert "ghost-1" in error and "DBIRTH" in error


def test_served_to_kafka_one_for_one(tmp_path: Path, stream_settings: Settings) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    births = simulation().births()
    document = served.mapping(births, HOST, SHARED_PORT, group_prefix=prefix)
    loaded = load(document, tmp_path / "s.yaml")

    async def during(adapter: Adapter) -> None:
        await asyncio.sleep(0.5)
        await served.serve(simulation(), SPEED, HOST, SHARED_PORT, group_prefix=prefix)
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
    """A Mosquitto of the test's own, restarted mid-run: the edge nodes come back with a new
    session (NBIRTH, DBIRTHs) and publish again what was in flight; the adapter's persistent
    session gets what was queued; on Kafka every sample once, seqs 1..n."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    duration = 100
    births = simulation(duration_s=duration).births()
    document = served.mapping(births, HOST, mosquitto.port, group_prefix=prefix)
    loaded = load(document, tmp_path / "s.yaml")
    stats = Stats()

    async def during(adapter: Adapter) -> None:
        await asyncio.sleep(0.5)
        serving = asyncio.create_task(
            served.serve(
                simulation(duration_s=duration), SPEED, HOST, mosquitto.port,
                group_prefix=prefix, stats=stats,
            )
        )  # fmt: skip
        await asyncio.sleep(3)
        await mosquitto.restart(1.5)
        await serving
        await asyncio.sleep(2)
        assert adapter.status.reconnects >= 1

    adapter, samples = asyncio.run(run_adapter(loaded, stream_settings, tmp_path / "spool", during))
    assert stats.reconnects >= 1
    assert adapter.status.invalid == 0
    assert_one_for_one(samples, expected(duration_s=duration))


def test_adapter_started_late_asks_for_rebirth(tmp_path: Path) -> None:
    """The edge nodes publish for 2 s before the adapter starts: it sees a DDATA of a device
    it has no DBIRTH of, asks the node for a rebirth and from the births on gets every
    DDATA — each device's readings are the last of its served samples, none skipped."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    source = Source(mapped(tmp_path, SHARED_PORT, prefix), f"late-{prefix}")
    got: list[tuple[str, dict[str, Any]]] = []
    stats = Stats()

    async def main() -> None:
        serving = asyncio.create_task(
            served.serve(simulation(), SPEED, HOST, SHARED_PORT, group_prefix=prefix, stats=stats)
        )
        await asyncio.sleep(2)
        task = asyncio.create_task(source.run(lambda d, v, ts: got.append((d, dict(v))), Status()))
        await serving
        await asyncio.sleep(0.5)
        task.cancel()
        await forget_session(SHARED_PORT, source.client_id)

    asyncio.run(main())
    assert source.rebirths_asked >= 1 and stats.rebirths >= 1
    want: dict[str, list[dict[str, Any]]] = {}
    for device_id, sample in expected():
        want.setdefault(device_id, []).append(values_of(sample))
    mine: dict[str, list[dict[str, Any]]] = {}
    for device_id, values in got:
        mine.setdefault(device_id, []).append(values)
    assert mine.keys() == want.keys()
    for device_id, readings in mine.items():
        served_values = want[device_id]
        assert 0 < len(readings) < len(served_values), device_id
        assert readings == served_values[-len(readings) :], device_id
