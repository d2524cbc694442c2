"""The Modbus TCP adapter against the simulator served on a real pymodbus server: the
decoding of every type and word/byte order, the fewest reads, an illegal address named,
the samples on Kafka equal to the served ones, a server restart survived with seqs 1..n."""

from __future__ import annotations

import asyncio
import logging
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from iiot.settings import Settings
from producers.adapters import assemble
from producers.adapters import mapping as m
from producers.adapters.modbus import Source, decode, spans
from producers.adapters.source import SourceError, Status
from simulators.serve import modbus as served
from tests.integration.adapter_support import (
    Feeding,
    close,
    free_port,
    load,
    simulation,
    through_a_restart,
)
from tests.invoke import iiot

pytestmark = pytest.mark.integration

SPEED = 10


@pytest.mark.parametrize("word_order", ["big", "little"])
@pytest.mark.parametrize("byte_order", ["big", "little"])
@pytest.mark.parametrize(
    ("kind", "value"),
    [("uint16", 65_535), ("int16", -12_345), ("uint32", 4_000_000_123), ("int32", -2_000_000_001),
     ("float32", 181.23), ("float32", -0.07), ("float32", 30_912.55)],
)  # fmt: skip
def test_decode_inverts_the_served_encoding(
    kind: str, value: float, word_order: str, byte_order: str
) -> None:
    point = served.Point("holding", 0, kind)
    registers = served.encode(value, point, word_order, byte_order)
    mapped = m.ModbusPoint.model_validate(
        {"address": 0, "type": kind, "word_order": word_order, "byte_order": byte_order}
    )
    assert decode(registers, mapped) == value
    if kind.endswith("32"):  # the word order really is the order of the two registers
        big = served.encode(value, point, "big", byte_order)
        assert registers == (big if word_order == "big" else big[::-1])
    assert all(0 <= r <= 0xFFFF for r in registers)
    if kind == "float32":
        assert struct.pack(">f", decode(registers, mapped)) == struct.pack(">f", value)


def test_points_grouped_into_the_fewest_reads() -> None:
    def point(address: int, kind: str = "uint16", table: str = "holding") -> m.ModbusPoint:
        return m.ModbusPoint.model_validate({"address": address, "type": kind, "table": table})

    reads = spans(
        [("a", point(0)), ("b", point(1, "uint32")), ("c", point(3, "float32")),
         ("d", point(10)), ("e", point(0, table="input")), ("f", point(11, "int32")),
         ("g", point(200)), ("h", point(300)), ("i", point(324, "uint32"))]
    )  # fmt: skip
    assert [(r.table, r.address, r.count) for r in reads] == [
        ("holding", 0, 5), ("holding", 10, 3), ("holding", 200, 1), ("holding", 300, 1),
        ("holding", 324, 2), ("input", 0, 1),
    ]  # fmt: skip
    many = spans([(str(a), point(a)) for a in range(300)])  # at most 125 registers a read
    assert [(r.address, r.count) for r in many] == [(0, 125), (125, 125), (250, 50)]


def test_the_source_reads_the_served_values(tmp_path: Path) -> None:
    """Four devices, one of each word/byte order; holding and (mirrored) input registers;
    every type, scaled and not: the raw values are the served ones."""
    sim = simulation(4, duration_s=120)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    for device in document["devices"][1::2]:  # half of them read the metrics from the mirror
        for point in device["metrics"].values():
            point["table"] = "input"
    loaded = load(document, tmp_path / "modbus.yaml")
    assert isinstance(loaded.mapping, m.ModbusMapping)

    async def main() -> tuple[dict[str, dict[str, Any]], Feeding]:
        server = served.ModbusServed(served.Units(sim.births()), "127.0.0.1", port)
        feeding = Feeding(server)
        await feeding.start(sim, None)
        assert feeding.task is not None
        await feeding.task  # every sample written: the registers hold the last ones
        try:
            return await Source(loaded.mapping, "modbus.yaml").probe(), feeding
        finally:
            await server.stop()

    found, feeding = asyncio.run(main())
    last = {s.device_id: s for s in feeding.served}
    assert found.keys() == last.keys()
    for device in loaded.mapping.devices:
        raw, want = found[device.device_id], last[device.device_id]
        layout = served.layout(
            next(b.kind for b in sim.births() if b.device_id == device.device_id)
        )
        assert raw.keys() == want.values.keys()
        for name, value in want.values.items():
            factor = layout[name].factor
            expected = value if factor == 1 else round(value * factor)
            assert raw[name] == expected, (device.device_id, name, raw[name], value)
        reading = assemble.reading(device, raw, datetime.now(UTC))
        sample = want.sample
        assert (reading["state"], reading.get("reason")) == (sample["state"], sample["reason"])
        assert (reading["count_total"], reading["count_good"]) == (
            sample["count_total"], sample["count_good"])  # fmt: skip
        assert reading["ideal_cycle_s"] == sample["ideal_cycle_s"]
        assert reading["metrics"].keys() == sample["metrics"].keys()
        for metric, value in sample["metrics"].items():
            assert close(reading["metrics"][metric], value), (metric, reading["metrics"], value)
    orders = {(p.word_order, p.byte_order) for d in loaded.mapping.devices for p in [d.count_total]}
    assert len(orders) == 4


def test_an_illegal_address_is_named_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sim = simulation(1, duration_s=60)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    device = document["devices"][0]
    device["metrics"]["oil_temp_c"] = {"address": 7, "table": "holding", "type": "int16"}
    device["metrics"]["missing"] = {"address": 4000, "type": "uint32"}
    loaded = load(document, tmp_path / "bad.yaml", interval_factor=0.05)
    assert isinstance(loaded.mapping, m.ModbusMapping)
    source = Source(loaded.mapping, "bad.yaml")
    emitted: list[dict[str, Any]] = []

    async def main() -> None:
        server = served.ModbusServed(served.Units(sim.births()), "127.0.0.1", port)
        await Feeding(server).start(sim, None)
        try:
            with pytest.raises(SourceError) as raised:
                await source.probe()
            assert str(raised.value) == (
                f"device {device['device_id']}: metrics.missing (holding register 4000–4001, "
                f"unit 1) at 127.0.0.1:{port}: illegal data address (Modbus exception 2)"
            )
            status = Status()
            task = asyncio.create_task(source.run(lambda d, v, ts: emitted.append(dict(v)), status))
            await asyncio.sleep(1)
            task.cancel()
            assert status.reconnects == 0
        finally:
            await server.stop()

    with caplog.at_level(logging.ERROR, logger="producers.adapters.modbus"):
        asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "metrics.missing" in errors[0] and "4000" in errors[0], errors
    assert len(emitted) >= 5  # read every 0.1 s, the other points still
    assert all("metrics.missing" not in values and "state" in values for values in emitted)


def test_served_devices_to_kafka_through_a_server_restart(
    tmp_path: Path, stream_settings: Settings
) -> None:
    """Three devices served at 10× and read as often; the server stops for 2 s mid-run.
    On Kafka: per device seqs 1..n, each sample one that was served, the last the last."""
    sim = simulation(3)
    port = free_port()
    loaded = load(served.mapping(sim.births(), "127.0.0.1", port), tmp_path / "m.yaml", 1 / SPEED)
    server = served.ModbusServed(served.Units(sim.births()), "127.0.0.1", port)
    _, per_device = through_a_restart(sim, server, loaded, stream_settings, tmp_path, SPEED)
    assert all(len(mine) >= 15 for mine in per_device.values()), {
        d: len(s) for d, s in per_device.items()
    }


def test_check_names_the_file_and_the_problem(tmp_path: Path) -> None:
    document = served.mapping(simulation(1).births(), "127.0.0.1", 5020)
    document["devices"][0]["count_good"]["type"] = "float64"
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    result = iiot("adapter", "check", str(path))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "typo.yaml" in lines[0] and "float64" in lines[0] and "count_good" in lines[0], lines
