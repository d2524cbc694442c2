"""The OPC UA adapter against the simulator served on a real asyncua server: the values read
are the served ones, an unknown node is named, and in both modes (subscribe, poll) the
samples on Kafka are the served ones, through a server restart, with seqs 1..n."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from iiot.settings import Settings
from producers.adapters import mapping as m
from producers.adapters.opcua import Source
from producers.adapters.source import SourceError
from simulators.serve import opcua as served
from tests.integration.adapter_support import (
    Feeding,
    free_port,
    load,
    simulation,
    through_a_restart,
)
from tests.invoke import iiot

pytestmark = pytest.mark.integration

SPEED = 10


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def test_the_source_reads_the_served_values(tmp_path: Path) -> None:
    sim = simulation(3, duration_s=120)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    document["connection"]["mode"] = "poll"
    loaded = load(document, tmp_path / "opcua.yaml")
    device = document["devices"][1]
    device["metrics"]["oil_temp_c"] = {"node": f"ns=2;s={device['device_id']}.oil_temp_c"}
    unknown = load(document, tmp_path / "unknown.yaml")
    assert isinstance(loaded.mapping, m.OpcuaMapping)
    assert isinstance(unknown.mapping, m.OpcuaMapping)

    async def main() -> tuple[dict[str, dict[str, Any]], Feeding]:
        server = served.OpcuaServed(sim.births(), "127.0.0.1", port)
        feeding = Feeding(server)
        await feeding.start(sim, None)
        assert feeding.task is not None
        await feeding.task  # every sample written: the nodes hold the last ones
        try:
            with pytest.raises(SourceError) as raised:
                await Source(unknown.mapping, "unknown.yaml").probe()
            assert str(raised.value) == (
                f"device {device['device_id']}: metrics.oil_temp_c (node ns=2;s="
                f"{device['device_id']}.oil_temp_c) at opc.tcp://127.0.0.1:{port}/iiot/: "
                "BadNodeIdUnknown"
            )
            return await Source(loaded.mapping, "opcua.yaml").probe(), feeding
        finally:
            await server.stop()

    found, feeding = asyncio.run(main())
    last = {s.device_id: s.values for s in feeding.served}
    assert found == last  # Doubles and integers: exactly


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
def test_served_devices_to_kafka_through_a_server_restart(
    mode: str, tmp_path: Path, stream_settings: Settings
) -> None:
    """Three devices served at 10× and read as often; the server is stopped for 2 s and a
    new one started. On Kafka: per device seqs 1..n, each sample one that was served, the
    last the last."""
    sim = simulation(3)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    document["connection"]["mode"] = mode
    loaded = load(document, tmp_path / "opcua.yaml", 1 / SPEED)
    server = served.OpcuaServed(sim.births(), "127.0.0.1", port)
    _, per_device = through_a_restart(sim, server, loaded, stream_settings, tmp_path, SPEED)
    assert all(len(mine) >= 10 for mine in per_device.values()), {
        d: len(s) for d, s in per_device.items()
    }


def test_check_names_the_file_and_the_problem(tmp_path: Path) -> None:
    document = served.mapping(simulation(1).births(), "127.0.0.1", 4840)
    document["connection"]["mode"] = "push"
    path = tmp_path / "push.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    result = iiot("adapter", "check", str(path))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "push.yaml" in lines[0] and "mode" in lines[0], lines
