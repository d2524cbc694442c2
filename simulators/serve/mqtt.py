"""The simulator's devices publishing JSON to an MQTT broker (`iiot simulate --serve mqtt`).

Each device publishes each sample, QoS 1, not retained, on a topic of its own,

    factory/<enterprise id>/<line id>/<device id>/telemetry

as a nested JSON object, as gateways and PLC MQTT modules commonly do:

    {"ts": "2026-11-26T08:00:05.000Z", "device": "qd-haier-p1-l2-press03",
     "status": {"code": 20}, "counters": {"total": 5321, "good": 5290},
     "cycle": {"ideal_s": 12.5},
     "process": {"power_kw": 6.8, "temperature_c": 41.2, "vibration_mm_s": 1.1,
                 "hydraulic_bar": 181.2}}

`status.code` is the vendor state code (`feed.CODES`). `mapping()` gives the mapping file
that reads them back (dotted paths); the adapter's readings then equal the simulator's own
samples. A lost connection to the broker is made again and the sample that was being
published is sent again (at least once: the adapter's runner drops a second copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import orjson

from iiot.messages import DeviceBirth
from simulators.catalogue import KINDS
from simulators.serve import mapped
from simulators.serve.feed import Served, feed
from simulators.simulation import Simulation

log = logging.getLogger(__name__)

ROOT = "factory"
TIMESTAMP = "ts"
# Where each field of a reading is in the payload (metrics: "process.<name>").
PATHS = {
    "state": "status.code",
    "count_total": "counters.total",
    "count_good": "counters.good",
    "ideal_cycle_s": "cycle.ideal_s",
}


def metric_names(kind: str) -> list[str]:
    """The metrics the simulator gives a device of `kind` (simulators/process.py)."""
    spec = next(spec for spec in KINDS.values() if spec.kind == kind)
    return ["power_kw", "temperature_c", "vibration_mm_s", spec.process_metric]


def topic(birth: DeviceBirth, root: str = ROOT) -> str:
    return f"{root}/{birth.enterprise.id}/{birth.line_id}/{birth.device_id}/telemetry"


def payload(served: Served) -> bytes:
    """One sample as the device publishes it (see the module's docstring)."""
    document: dict[str, Any] = {TIMESTAMP: served.sample["ts"], "device": served.device_id}
    for field, value in served.values.items():
        path = PATHS.get(field) or "process." + field.removeprefix("metrics.")
        outer, inner = path.split(".")
        document.setdefault(outer, {})[inner] = value
    return orjson.dumps(document)


@dataclass
class Stats:
    """What a serve published, for its caller (a test) to read."""

    published: int = 0  # samples
    reconnects: int = 0
    rebirths: int = 0  # Sparkplug B: births asked for by a host application


class Connection:
    """One client that stays connected: `send()` publishes, and after a lost connection
    connects again (every `retry_s`) and publishes the same message again."""

    def __init__(
        self,
        make: Callable[[], aiomqtt.Client],
        stats: Stats,
        on_connect: Callable[[aiomqtt.Client], Awaitable[None]] | None = None,
        retry_s: float = 0.5,
    ) -> None:
        self._make, self._stats, self._on_connect = make, stats, on_connect
        self._retry_s = retry_s
        self.client: aiomqtt.Client | None = None

    async def connect(self) -> aiomqtt.Client:
        warned = False
        while True:
            mqtt = self._make()
            try:
                await mqtt.__aenter__()
            except aiomqtt.MqttError as exc:
                if not warned:
                    log.warning("broker: cannot connect (%s); trying again", exc)
                    warned = True
                await asyncio.sleep(self._retry_s)
                continue
            self.client = mqtt
            if self._on_connect is not None:
                try:
                    await self._on_connect(mqtt)
                except aiomqtt.MqttError:
                    await self._drop()
                    continue
            return mqtt

    async def send(self, publish: Callable[[aiomqtt.Client], Awaitable[None]]) -> None:
        while True:
            mqtt = self.client or await self.connect()
            try:
                await publish(mqtt)
                return
            except aiomqtt.MqttError as exc:
                log.warning("broker: connection lost (%s); connecting again", exc)
                self._stats.reconnects += 1
                await self._drop()

    async def _drop(self) -> None:
        mqtt, self.client = self.client, None
        if mqtt is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await mqtt.__aexit__(None, None, None)

    async def close(self) -> None:
        await self._drop()


async def serve(
    simulation: Simulation,
    speed: float | None,
    host: str,
    port: int,
    *,
    root: str = ROOT,
    qos: int = 1,
    stats: Stats | None = None,
) -> None:
    """Publish every sample of `simulation`, paced at `speed`, until it ends."""
    stats = stats if stats is not None else Stats()
    topics = {birth.device_id: topic(birth, root) for birth in simulation.births()}
    connection = Connection(lambda: aiomqtt.Client(host, port, timeout=5.0), stats)
    try:
        async for served in feed(simulation.run(), speed):
            data = payload(served)
            device_topic = topics[served.device_id]

            async def publish(mqtt: aiomqtt.Client, t: str = device_topic, d: bytes = data) -> None:
                await mqtt.publish(t, d, qos=qos, retain=False)

            await connection.send(publish)
            stats.published += 1
    finally:
        await connection.close()


def mapping(births: list[DeviceBirth], host: str, port: int, *, root: str = ROOT) -> dict[str, Any]:
    """The mapping file of the served devices (protocol `mqtt`)."""
    return {
        "protocol": "mqtt",
        "connection": {"host": host, "port": port, "qos": 1},
        "enterprises": mapped.enterprises(births),
        "devices": [
            {
                **mapped.device(birth, points(birth.kind)),
                "topic": topic(birth, root),
                "timestamp": TIMESTAMP,
            }
            for birth in births
        ],
    }


def points(kind: str) -> dict[str, dict[str, Any]]:
    return {
        **{field: {"path": path} for field, path in PATHS.items()},
        **{f"metrics.{name}": {"path": f"process.{name}"} for name in metric_names(kind)},
    }
