"""Modbus TCP: each device's registers read every `sample_interval_s` (docs/integrating.md).

Per device, its points are grouped by table into as few reads as possible: registers that
are contiguous (or overlap) are read together, up to 125 a request (the protocol's limit);
a gap between two points is never read across, since a device may refuse the address.
Each point is then decoded from its registers: word order (which register of a 32-bit
value comes first), byte order (within each register), the type; a float32 is given as
the shortest decimal that is the same float32 (a PLC's 4.8 is 4.8, not 4.800000190734863).

A lost connection or a read that times out: one warning, `status.reconnects += 1`,
`Backoff`, connect again. A Modbus exception response of illegal function, address
or value is the mapping's fault, not the connection's: one error naming the device, the
point and the address, and that point is left out of the device's readings from then on (a
missing counter makes the Publisher dead-letter the reading with its reason). A device
busy or failing (exception 4, 6, a gateway's 10 or 11): one warning, no reading until it
answers again.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from producers.adapters import mapping as m
from producers.adapters.reconnect import Lost, keep_connected
from producers.adapters.source import Backoff, Emit, SourceError, Status

log = logging.getLogger(__name__)
# pymodbus logs each failed connect ("Failed to connect …", "Repeating...."): the source
# says it once itself, naming the file and the address.
logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

MAX_READ = 125  # registers per read (Modbus: at most 125 holding or input registers)
_SIZE = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
_FORMAT = {"uint16": "H", "int16": "h", "uint32": "I", "int32": "i", "float32": "f"}
# Exception codes that say the read itself cannot work (the mapping is wrong): the point is
# dropped. The others (device failure, busy, gateway) pass: the reading waits for the next.
_MAPPING_FAULTS = (1, 2, 3)
_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


def size(point: m.ModbusPoint) -> int:
    """How many registers the point's type takes."""
    return _SIZE[point.type]


def decode(registers: list[int], point: m.ModbusPoint) -> int | float:
    """One point's value from its registers, as read (each a 16-bit number)."""
    words = registers if point.word_order == "big" else registers[::-1]
    data = b"".join(word.to_bytes(2, point.byte_order) for word in words)
    (value,) = struct.unpack(">" + _FORMAT[point.type], data)
    if point.type == "float32":
        return shortest_float32(value)
    return int(value)


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32 as `value` (NaN, inf as they are)."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    packed = struct.pack(">f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value


@dataclass(slots=True)
class Span:
    """One read: `count` registers of one table from `address`, and the points in it."""

    table: str
    address: int
    count: int
    points: list[tuple[str, m.ModbusPoint]] = field(default_factory=list)


def spans(points: Iterable[tuple[str, m.ModbusPoint]]) -> list[Span]:
    """The fewest reads that cover the points: contiguous or overlapping registers of a
    table together, at most `MAX_READ` a read."""
    ordered = sorted(points, key=lambda item: (item[1].table, item[1].address))
    reads: list[Span] = []
    for name, point in ordered:
        last = reads[-1] if reads else None
        end = point.address + size(point)
        if (
            last is not None
            and last.table == point.table
            and point.address <= last.address + last.count
            and end - last.address <= MAX_READ
        ):
            last.count = max(last.count, end - last.address)
        else:
            last = Span(point.table, point.address, size(point))
            reads.append(last)
        last.points.append((name, point))
    return reads


class _Refused(Exception):
    """A Modbus exception response: this read cannot work as mapped."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    def text(self) -> str:
        return f"{_EXCEPTIONS.get(self.code, 'exception')} (Modbus exception {self.code})"


class _Device:
    """One mapped device: its reads, and the points found unreadable."""

    def __init__(self, device: m.ModbusDevice) -> None:
        self.device = device
        self.points = dict(device.points())
        self.reads = spans(self.points.items())
        self.due = 0.0
        self.busy = False  # answered "busy" or "failure" last time (warned once)

    def drop(self, names: Iterable[str]) -> None:
        for name in names:
            self.points.pop(name, None)
        self.reads = spans(self.points.items())


class Source:
    """The devices of one Modbus mapping file, over one TCP connection."""

    def __init__(self, mapping: m.ModbusMapping, name: str) -> None:
        self.mapping, self.name = mapping, name
        self.connection = mapping.connection
        self.address = f"{self.connection.host}:{self.connection.port}"

    def _client(self) -> AsyncModbusTcpClient:
        # No retries and no reconnects of its own: a lost device is ours to back off from.
        return AsyncModbusTcpClient(
            self.connection.host,
            port=self.connection.port,
            name=self.name,
            timeout=self.connection.timeout_s,
            retries=0,
            reconnect_delay=0,
        )

    async def _connect(self) -> AsyncModbusTcpClient:
        client = self._client()
        try:
            connected = await client.connect()
        except (OSError, ModbusException) as exc:
            client.close()
            raise Lost(f"cannot connect to {self.address}: {exc}") from None
        if not connected:
            client.close()
            raise Lost(f"cannot connect to {self.address}: refused, or no answer within "
                       f"{self.connection.timeout_s:g} s")  # fmt: skip
        return client

    async def _read_span(self, client: AsyncModbusTcpClient, unit: int, span: Span) -> list[int]:
        read = (
            client.read_holding_registers
            if span.table == "holding"
            else client.read_input_registers
        )
        try:
            response = await read(span.address, count=span.count, device_id=unit)
        except (TimeoutError, OSError, ModbusException) as exc:
            raise Lost(f"{self.address}: {exc}") from None
        if response.isError():
            raise _Refused(response.exception_code)
        registers = list(response.registers)
        if len(registers) < span.count:
            raise Lost(f"{self.address}: {len(registers)} registers for {span.count} asked")
        return registers

    async def _read(
        self, client: AsyncModbusTcpClient, device: _Device
    ) -> tuple[dict[str, Any], list[str]]:
        """The device's values; and the problems found: points refused by the device,
        which are named and no longer read."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        unit = device.device.unit
        for span in list(device.reads):
            try:
                registers = await self._read_span(client, unit, span)
            except _Refused as refused:
                if refused.code not in _MAPPING_FAULTS:  # busy, failing: not the mapping's
                    if not device.busy:
                        log.warning("%s: device %s (unit %d): %s; its reading waits", self.name,
                                    device.device.device_id, unit, refused.text())  # fmt: skip
                    device.busy = True
                    return {}, problems
                if len(span.points) > 1:  # which of them? each on its own
                    bad: list[str] = []
                    for name, point in span.points:
                        one = Span(point.table, point.address, size(point), [(name, point)])
                        try:
                            values.update(
                                self._decoded(one, await self._read_span(client, unit, one))
                            )
                        except _Refused as alone:
                            bad.append(name)
                            problems.append(self._refusal(device, name, point, alone))
                    device.drop(bad)
                else:
                    name, point = span.points[0]
                    problems.append(self._refusal(device, name, point, refused))
                    device.drop([name])
                continue
            values.update(self._decoded(span, registers))
        device.busy = False
        return values, problems

    @staticmethod
    def _decoded(span: Span, registers: list[int]) -> dict[str, Any]:
        return {
            name: decode(
                registers[
                    point.address - span.address : point.address - span.address + size(point)
                ],
                point,
            )
            for name, point in span.points
        }

    def _refusal(self, device: _Device, name: str, point: m.ModbusPoint, refused: _Refused) -> str:
        registers = point.address if size(point) == 1 else f"{point.address}–{point.address + 1}"
        return (
            f"device {device.device.device_id}: {name} ({point.table} register {registers}, "
            f"unit {device.device.unit}) at {self.address}: {refused.text()}"
        )

    async def run(self, emit: Emit, status: Status) -> None:
        devices = [_Device(device) for device in self.mapping.devices]

        async def use(client: AsyncModbusTcpClient, backoff: Backoff) -> None:
            await self._poll(client, devices, emit, backoff)

        async def close(client: AsyncModbusTcpClient) -> None:
            client.close()

        await keep_connected(self.name, self._connect, use, close, status)

    async def _poll(
        self, client: AsyncModbusTcpClient, devices: list[_Device], emit: Emit, backoff: Backoff
    ) -> None:
        """Read each device when it is due, for ever (or until the connection is lost)."""
        now = time.monotonic()
        for device in devices:
            device.due = now
        while True:
            device = min(devices, key=lambda d: d.due)
            wait = device.due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            device.due += device.device.sample_interval_s
            if device.due < time.monotonic():  # fell behind (a slow device): no burst
                device.due = time.monotonic() + device.device.sample_interval_s
            values, problems = await self._read(client, device)
            backoff.reset()
            for problem in problems:
                log.error("%s: %s; that point is no longer read", self.name, problem)
            if values:
                emit(device.device.device_id, values, None)

    async def probe(self) -> dict[str, dict[str, Any]]:
        try:
            client = await self._connect()
        except Lost as lost:
            raise SourceError(str(lost)) from None
        try:
            found: dict[str, dict[str, Any]] = {}
            problems: list[str] = []
            for device in self.mapping.devices:
                values, refused = await self._read(client, _Device(device))
                found[device.device_id] = values
                problems += refused
        except Lost as lost:
            raise SourceError(f"connection lost: {lost}") from None
        finally:
            client.close()
        if problems:
            raise SourceError("; ".join(problems))
        return found
