"""The simulated devices on a Modbus TCP server (`iiot simulate --serve modbus`).

One server, one unit id per device: the i-th device of the births is unit i + 1 (Modbus
allows 1–247, so at most 247 devices per server). Every unit has the same register map,
which uses each register type the adapter decodes (docs/integrating.md, "Modbus TCP"):

| address | field | type | raw value | scale |
|---|---|---|---|---|
| 0 | state (vendor code, `feed.CODES`) | uint16 | code | |
| 1–2 | count_total | uint32 | parts (wraps at 2^32 like a PLC's) | |
| 3–4 | count_good | uint32 | parts | |
| 5–6 | ideal_cycle_s | float32 | seconds | |
| 7–8 | metrics.power_kw | float32 | kW | |
| 9 | metrics.temperature_c | int16 | tenths of °C | 0.1 |
| 10 | metrics.vibration_mm_s | uint16 | hundredths of mm/s | 0.01 |
| 11–12 | metrics.<the kind's process value> | int32 | hundredths | 0.01 |

in the holding registers, and the same again in the input registers (read-only, a mirror,
as many devices offer). A device's points are contiguous, so the adapter reads them in one
request, which the server answers between two samples: a reading is never half of one
sample and half of the next (two requests could be). The mapping file (`mapping()`) reads
the holding registers. Unit i has the (i − 1) % 4-th of the word/byte orders big/big,
little/big, big/little, little/little, as devices of different vendors do, so that one
served simulation exercises every decoding the adapter has; the mapping says it per point.

Precision: float32 keeps ~7 significant digits, so the simulator's values (two decimals,
below 100,000) come back exactly, since the adapter reads a float32 as the shortest decimal
that is the same float32. The scaled integers are exact as integers; raw × 0.01 is then a
double within one rounding (1e-16 relative) of the simulator's value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from iiot.messages import DeviceBirth
from simulators.catalogue import KINDS
from simulators.serve import mapped
from simulators.serve.feed import Served, feed
from simulators.serve.serving import serve_until_cancelled
from simulators.simulation import Simulation

MAX_UNITS = 247
ORDERS: tuple[tuple[str, str], ...] = (
    ("big", "big"),
    ("little", "big"),
    ("big", "little"),
    ("little", "little"),
)
HOLDING, INPUT = "holding", "input"
_FUNCTION = {HOLDING: 16, INPUT: 4}  # the server's datastore is written by function code
_SIZE = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
_FORMAT = {"uint16": "H", "int16": "h", "uint32": "I", "int32": "i", "float32": "f"}
_REGISTERS = 13  # per table and unit: addresses 0–12


@dataclass(frozen=True, slots=True)
class Point:
    table: str  # the mapping's; the input registers mirror the holding ones
    address: int
    type: str
    factor: float = 1.0  # raw = value × factor (the mapping's scale is 1 / factor)


def process_metric(kind: str) -> str:
    """The kind's own process value (spindle_rpm, hydraulic_bar, …)."""
    return next(spec.process_metric for spec in KINDS.values() if spec.kind == kind)


def layout(kind: str) -> dict[str, Point]:
    """Field name (as `DeviceMapping.points()`) → where it is served."""
    return {
        "state": Point(HOLDING, 0, "uint16"),
        "count_total": Point(HOLDING, 1, "uint32"),
        "count_good": Point(HOLDING, 3, "uint32"),
        "ideal_cycle_s": Point(HOLDING, 5, "float32"),
        "metrics.power_kw": Point(HOLDING, 7, "float32"),
        "metrics.temperature_c": Point(HOLDING, 9, "int16", 10),
        "metrics.vibration_mm_s": Point(HOLDING, 10, "uint16", 100),
        f"metrics.{process_metric(kind)}": Point(HOLDING, 11, "int32", 100),
    }


def encode(value: float, point: Point, word_order: str, byte_order: str) -> list[int]:
    """The registers of one value: integers rounded and kept within the type (a counter
    wraps, anything else saturates), then laid out in the device's word and byte order."""
    kind = point.type
    if kind == "float32":
        data = struct.pack(">f", value)
    else:
        raw = round(value * point.factor)
        bits = 16 * _SIZE[kind]
        if kind == "uint32":
            raw %= 1 << 32
        elif kind.startswith("u"):
            raw = min(max(raw, 0), (1 << bits) - 1)
        else:
            raw = min(max(raw, -(1 << (bits - 1))), (1 << (bits - 1)) - 1)
        data = struct.pack(">" + _FORMAT[kind], raw)
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        words.reverse()
    return [int.from_bytes(word, "big" if byte_order == "big" else "little") for word in words]


class Units:
    """The devices' registers, by device: what the feed writes and a server serves."""

    def __init__(self, births: list[DeviceBirth]) -> None:
        if len(births) > MAX_UNITS:
            raise ValueError(
                f"Modbus serves at most {MAX_UNITS} devices (one unit id each); "
                f"got {len(births)}: simulate fewer devices"
            )
        self.unit = {b.device_id: i + 1 for i, b in enumerate(births)}
        self.layout = {b.device_id: layout(b.kind) for b in births}
        self.registers = {
            b.device_id: {HOLDING: [0] * _REGISTERS, INPUT: [0] * _REGISTERS} for b in births
        }

    def order(self, device_id: str) -> tuple[str, str]:
        return ORDERS[(self.unit[device_id] - 1) % len(ORDERS)]

    def write(self, served: Served) -> dict[str, list[int]]:
        """A served sample into its device's registers; the tables as they now are."""
        tables = self.registers[served.device_id]
        word_order, byte_order = self.order(served.device_id)
        for field, point in self.layout[served.device_id].items():
            value = served.values.get(field)
            if value is None:
                continue
            registers = encode(value, point, word_order, byte_order)
            tables[point.table][point.address : point.address + len(registers)] = registers
        tables[INPUT][:] = tables[HOLDING]  # the mirror
        return tables

    def devices(self) -> list[SimDevice]:
        """The pymodbus datastore, holding the registers as they are now."""
        return [
            SimDevice(
                id=self.unit[device_id],
                simdata=(
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, values=list(tables[HOLDING]), datatype=DataType.REGISTERS)],
                    [SimData(0, values=list(tables[INPUT]), datatype=DataType.REGISTERS)],
                ),
            )
            for device_id, tables in self.registers.items()
        ]


class ModbusServed:
    """The network side, which a test may stop and start again while the feed goes on
    (a PLC restarting its network stack: the counters continue)."""

    def __init__(self, units: Units, host: str, port: int) -> None:
        self.units, self.host, self.port = units, host, port
        self.server: ModbusTcpServer | None = None
        self.seen: set[str] = set()

    @property
    def listening(self) -> bool:
        return self.server is not None

    def complete(self) -> bool:
        return len(self.seen) == len(self.units.unit)

    async def start(self) -> None:
        server = ModbusTcpServer(self.units.devices(), address=(self.host, self.port))
        await server.serve_forever(background=True)
        self.server = server

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()

    async def write(self, served: Served) -> None:
        tables = self.units.write(served)
        self.seen.add(served.device_id)
        if self.server is None:
            return
        unit = self.units.unit[served.device_id]
        for table, registers in tables.items():
            await self.server.async_setValues(unit, _FUNCTION[table], 0, list(registers))


async def serve(simulation: Simulation, speed: float | None, host: str, port: int) -> None:
    """Serve the simulation's devices until cancelled (the last values stay when it ends)."""
    server = ModbusServed(Units(simulation.births()), host, port)
    await serve_until_cancelled(server, feed(simulation.run(), speed))


def mapping(births: list[DeviceBirth], host: str, port: int) -> dict[str, Any]:
    """The mapping file (as YAML-able data) an adapter reads the served devices by."""
    units = Units(births)
    devices = []
    for birth in births:
        word_order, byte_order = units.order(birth.device_id)
        points: dict[str, dict[str, Any]] = {}
        for field, point in units.layout[birth.device_id].items():
            entry: dict[str, Any] = {"table": point.table, "address": point.address}
            entry["type"] = point.type
            if _SIZE[point.type] == 2:
                entry["word_order"] = word_order
            entry["byte_order"] = byte_order
            if point.factor != 1:
                entry["scale"] = 1 / point.factor
            points[field] = entry
        device = mapped.device(birth, points)
        devices.append({"device_id": device.pop("device_id"), "unit": units.unit[birth.device_id]}
                       | device)  # fmt: skip
    return {
        "protocol": "modbus",
        "connection": {"host": host, "port": port},
        "enterprises": mapped.enterprises(births),
        "devices": devices,
    }
