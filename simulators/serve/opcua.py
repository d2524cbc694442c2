"""The simulated devices on an OPC UA server (`iiot simulate --serve opcua`).

The server (endpoint `opc.tcp://HOST:PORT/iiot/`, security None, anonymous) has, under
Objects, a folder per device named by its id, and in it a variable per point, in the
namespace `urn:iiot-pipeline:simulator` (index 2, the first a server registers), with
string node ids `ns=2;s=<device_id>.<field>` (docs/integrating.md, "OPC UA"):

| variable | node id | type |
|---|---|---|
| state (vendor code, `feed.CODES`) | `ns=2;s=<device>.state` | UInt16 |
| count_total, count_good | `ns=2;s=<device>.count_total`, `….count_good` | UInt32 (wraps at 2^32) |
| ideal_cycle_s | `ns=2;s=<device>.ideal_cycle_s` | Double |
| each metric | `ns=2;s=<device>.metrics.<name>` | Double |

Doubles carry the simulator's values exactly. Each write has the sample's time as its
source timestamp.
"""

from __future__ import annotations

import logging
from typing import Any

from asyncua import ua
from asyncua.server import Server

from iiot.messages import DeviceBirth
from simulators.serve import mapped
from simulators.serve.feed import Served, feed
from simulators.serve.modbus import process_metric
from simulators.serve.serving import serve_until_cancelled
from simulators.simulation import Simulation

NAMESPACE = "urn:iiot-pipeline:simulator"
PATH = "/iiot/"
_TYPES = {"state": ua.VariantType.UInt16, "count_total": ua.VariantType.UInt32}
_TYPES["count_good"] = ua.VariantType.UInt32


def fields(kind: str) -> list[str]:
    """The points a device of `kind` serves, by the field names of a mapping's points."""
    metrics = ("power_kw", "temperature_c", "vibration_mm_s", process_metric(kind))
    return ["state", "count_total", "count_good", "ideal_cycle_s"] + [
        f"metrics.{name}" for name in metrics
    ]


def node_id(device_id: str, field: str, namespace: int = 2) -> str:
    return f"ns={namespace};s={device_id}.{field}"


def endpoint(host: str, port: int) -> str:
    return f"opc.tcp://{host}:{port}{PATH}"


def _variant(field: str, value: Any) -> ua.Variant:
    kind = _TYPES.get(field, ua.VariantType.Double)
    if kind is ua.VariantType.Double:
        return ua.Variant(float(value), kind)
    return ua.Variant(int(value) % (1 << 32), kind)


class OpcuaServed:
    """The network side, which a test may stop and start again while the feed goes on (a
    server restarting: a new server with the values as they are now, the counters go on)."""

    def __init__(self, births: list[DeviceBirth], host: str, port: int) -> None:
        self.births, self.host, self.port = births, host, port
        self.values: dict[str, dict[str, Any]] = {
            b.device_id: dict.fromkeys(fields(b.kind), 0) for b in births
        }
        self.server: Server | None = None
        self._nodes: dict[tuple[str, str], ua.NodeId] = {}
        self.seen: set[str] = set()

    @property
    def listening(self) -> bool:
        return self.server is not None

    def complete(self) -> bool:
        return len(self.seen) == len(self.values)

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(endpoint(self.host, self.port))
        server.set_server_name("iiot-pipeline simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        namespace = await server.register_namespace(NAMESPACE)
        for birth in self.births:
            folder = await server.nodes.objects.add_folder(
                ua.NodeId(birth.device_id, namespace), birth.device_id
            )
            for field, value in self.values[birth.device_id].items():
                nodeid = ua.NodeId(f"{birth.device_id}.{field}", namespace)
                variant = _variant(field, value)
                await folder.add_variable(nodeid, field, variant.Value, variant.VariantType)
                self._nodes[(birth.device_id, field)] = nodeid
        await server.start()
        self.server = server

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    async def write(self, served: Served) -> None:
        current = self.values[served.device_id]
        self.seen.add(served.device_id)
        for field, value in served.values.items():
            if field in current:
                current[field] = value
        if self.server is None:
            return
        for field in current:
            if field not in served.values:
                continue
            value = ua.DataValue(_variant(field, served.values[field]), SourceTimestamp=served.ts)
            await self.server.write_attribute_value(self._nodes[(served.device_id, field)], value)


async def serve(simulation: Simulation, speed: float | None, host: str, port: int) -> None:
    """Serve the simulation's devices until cancelled (the last values stay when it ends)."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # it warns of every unsecured start
    server = OpcuaServed(simulation.births(), host, port)
    await serve_until_cancelled(server, feed(simulation.run(), speed))


def mapping(births: list[DeviceBirth], host: str, port: int) -> dict[str, Any]:
    """The mapping file (as YAML-able data) an adapter reads the served devices by."""
    devices = [
        mapped.device(
            birth,
            {field: {"node": node_id(birth.device_id, field)} for field in fields(birth.kind)},
        )
        for birth in births
    ]
    return {
        "protocol": "opcua",
        "connection": {"endpoint": endpoint(host, port), "mode": "subscribe"},
        "enterprises": mapped.enterprises(births),
        "devices": devices,
    }
