"""The simulator's devices as Sparkplug B edge nodes (`iiot simulate --serve sparkplug`).

One edge node per production line, in a group per enterprise:

    spBv1.0/<enterprise id>/NBIRTH/<line id>                 bdSeq, Node Control/Rebirth
    spBv1.0/<enterprise id>/DBIRTH/<line id>/<device id>     every metric, name and alias
    spBv1.0/<enterprise id>/DDATA/<line id>/<device id>      the changed metrics, by alias
    spBv1.0/<enterprise id>/NDEATH/<line id>                 bdSeq (the MQTT will)

A device's metrics: `Status/Code` (Int32, the vendor state code of `feed.CODES`),
`Counters/Total` and `Counters/Good` (Int64), `Cycle/IdealSeconds` and `Process/<metric>`
(Double: the simulator's values exactly). A node connects with its NDEATH as will (bdSeq
counting its sessions) and publishes its NBIRTH (seq 0); a device's DBIRTH comes with its
first sample, then one DDATA per sample with the sample's timestamp and only the metrics
that changed (none may have: the DDATA still says the device read that time). seq rises by
one per message of the node, 255 wrapping to 0. A `Node Control/Rebirth` NCMD is answered
with the births again; a lost connection with a new session: NBIRTH, DBIRTHs, then the
sample that was being published. Messages go out at QoS 1 (`qos=`; the specification asks
for 0): with the adapter's persistent session nothing is lost while either is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiomqtt

from iiot import sparkplug_b as spb
from iiot.messages import DeviceBirth
from simulators.serve import mapped
from simulators.serve.feed import Served, feed
from simulators.serve.mqtt import Stats, metric_names
from simulators.simulation import Simulation

log = logging.getLogger(__name__)

T = spb.DataType
# A served device's metrics by the field names of a mapping's points.
FIXED = {
    "state": ("Status/Code", T.INT32),
    "count_total": ("Counters/Total", T.INT64),
    "count_good": ("Counters/Good", T.INT64),
    "ideal_cycle_s": ("Cycle/IdealSeconds", T.DOUBLE),
}


def metrics(kind: str) -> dict[str, tuple[str, spb.DataType]]:
    """field → (metric name, datatype) of a device of `kind`; aliases number them from 1."""
    return {
        **FIXED,
        **{f"metrics.{name}": (f"Process/{name}", T.DOUBLE) for name in metric_names(kind)},
    }


def group_of(birth: DeviceBirth, group_prefix: str = "") -> str:
    return group_prefix + birth.enterprise.id


class EdgeNode:
    """One line's devices over one MQTT connection."""

    def __init__(
        self, group: str, node: str, births: list[DeviceBirth], make: Any, qos: int, stats: Stats
    ) -> None:
        self.group, self.node, self.qos, self.stats = group, node, qos, stats
        self._make = make  # (will) → aiomqtt.Client
        self.kinds = {birth.device_id: birth.kind for birth in births}
        self.last: dict[str, dict[str, Any]] = {}  # values last published, per born device
        self.seq = 0
        self.bd_seq = -1
        self.client: aiomqtt.Client | None = None
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _topic(self, kind: str, device: str | None = None) -> str:
        return str(spb.Topic(self.group, kind, self.node, device))

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    def _death(self) -> bytes:
        bd_seq = spb.Metric(spb.BD_SEQ, T.INT64, self.bd_seq)
        return spb.encode(spb.Payload(_now_ms(), None, (bd_seq,)))

    # -- connection ------------------------------------------------------------------------

    async def _connect(self) -> aiomqtt.Client:
        warned = False
        while True:
            self.bd_seq = (self.bd_seq + 1) % 256
            will = aiomqtt.Will(self._topic("NDEATH"), self._death(), qos=1, retain=False)
            mqtt: aiomqtt.Client = self._make(will)
            try:
                await mqtt.__aenter__()
                self.client = mqtt
                await mqtt.subscribe(self._topic("NCMD"), qos=1)
                await self._births(mqtt)
            except aiomqtt.MqttError as exc:
                if not warned:
                    log.warning(
                        "%s/%s: cannot connect (%s); trying again", self.group, self.node, exc
                    )
                    warned = True
                await self._drop()
                await asyncio.sleep(0.5)
                continue
            self._listener = asyncio.create_task(self._listen(mqtt))
            return mqtt

    async def _drop(self) -> None:
        mqtt, self.client = self.client, None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await listener
        if mqtt is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await mqtt.__aexit__(None, None, None)

    async def _listen(self, mqtt: aiomqtt.Client) -> None:
        """Answer a rebirth request (NCMD Node Control/Rebirth = true) with the births."""
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in mqtt.messages:
                try:
                    payload = spb.decode(message.payload)
                except spb.PayloadError:
                    continue
                if any(m.name == spb.REBIRTH and m.value is True for m in payload.metrics):
                    async with self._lock:
                        if self.client is mqtt:
                            self.stats.rebirths += 1
                            log.info("%s/%s: rebirth asked for", self.group, self.node)
                            await self._births(mqtt)

    async def _births(self, mqtt: aiomqtt.Client) -> None:
        """NBIRTH (seq 0), then a DBIRTH of every device that has had a sample."""
        self.seq = 0
        node_metrics = (
            spb.Metric(spb.BD_SEQ, T.INT64, self.bd_seq),
            spb.Metric(spb.REBIRTH, T.BOOLEAN, False),
        )
        nbirth = spb.Payload(_now_ms(), 0, node_metrics)
        await mqtt.publish(self._topic("NBIRTH"), spb.encode(nbirth), qos=self.qos)
        for device_id, values in self.last.items():
            await mqtt.publish(
                self._topic("DBIRTH", device_id), self._dbirth(device_id, values), qos=self.qos
            )

    def _dbirth(self, device_id: str, values: dict[str, Any], ts_ms: int | None = None) -> bytes:
        ts_ms = ts_ms if ts_ms is not None else _now_ms()
        birth = tuple(
            spb.Metric(name, kind, values.get(field), alias=alias, timestamp=ts_ms)
            for alias, (field, (name, kind)) in enumerate(
                metrics(self.kinds[device_id]).items(), start=1
            )
        )
        return spb.encode(spb.Payload(ts_ms, self._next_seq(), birth))

    def _ddata(self, served: Served) -> bytes:
        before = self.last[served.device_id]
        changed = tuple(
            spb.Metric(
                None, kind, served.values.get(field), alias=alias, timestamp=served.timestamp_ms
            )
            for alias, (field, (_, kind)) in enumerate(
                metrics(self.kinds[served.device_id]).items(), start=1
            )
            if served.values.get(field) != before.get(field)
        )
        return spb.encode(spb.Payload(served.timestamp_ms, self._next_seq(), changed))

    # -- samples ---------------------------------------------------------------------------

    async def sample(self, served: Served) -> None:
        """Publish one sample (its device's DBIRTH first, if it is the first); after a lost
        connection, connect again (new session, births) and publish it again."""
        async with self._lock:
            while True:
                mqtt = self.client or await self._connect()
                try:
                    if served.device_id not in self.last:
                        data = self._dbirth(served.device_id, served.values, served.timestamp_ms)
                        await mqtt.publish(
                            self._topic("DBIRTH", served.device_id), data, qos=self.qos
                        )
                        self.last[served.device_id] = dict(served.values)
                    data = self._ddata(served)
                    await mqtt.publish(self._topic("DDATA", served.device_id), data, qos=self.qos)
                except aiomqtt.MqttError as exc:
                    log.warning("%s/%s: connection lost (%s)", self.group, self.node, exc)
                    self.stats.reconnects += 1
                    await self._drop()
                    continue
                self.last[served.device_id] = dict(served.values)
                self.stats.published += 1
                return

    async def close(self) -> None:
        """NDEATH (a clean disconnect sends no will), then disconnect."""
        async with self._lock:
            if self.client is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self.client.publish(self._topic("NDEATH"), self._death(), qos=self.qos)
            await self._drop()


def _now_ms() -> int:
    return int(time.time() * 1000)


async def serve(
    simulation: Simulation,
    speed: float | None,
    host: str,
    port: int,
    *,
    group_prefix: str = "",
    qos: int = 1,
    stats: Stats | None = None,
) -> None:
    """Publish every sample of `simulation` through its lines' edge nodes, paced at `speed`."""
    stats = stats if stats is not None else Stats()
    lines: dict[tuple[str, str], list[DeviceBirth]] = {}
    for birth in simulation.births():
        lines.setdefault((group_of(birth, group_prefix), birth.line_id), []).append(birth)
    nodes: dict[str, EdgeNode] = {}
    for (group, line), births in lines.items():
        node = EdgeNode(
            group,
            line,
            births,
            lambda will, g=group, n=line: aiomqtt.Client(
                host, port, identifier=f"iiot-sim-{g}-{n}", will=will, timeout=5.0, keepalive=10
            ),
            qos,
            stats,
        )
        for birth in births:
            nodes[birth.device_id] = node
    try:
        async for served in feed(simulation.run(), speed):
            await nodes[served.device_id].sample(served)
    finally:
        for node in {id(n): n for n in nodes.values()}.values():
            await node.close()


def mapping(
    births: list[DeviceBirth], host: str, port: int, *, group_prefix: str = ""
) -> dict[str, Any]:
    """The mapping file of the served devices (protocol `sparkplug`)."""
    return {
        "protocol": "sparkplug",
        "connection": {"host": host, "port": port, "qos": 1},
        "enterprises": mapped.enterprises(births),
        "devices": [
            {
                **mapped.device(
                    birth,
                    {field: {"metric": name} for field, (name, _) in metrics(birth.kind).items()},
                ),
                "group": group_of(birth, group_prefix),
                "edge_node": birth.line_id,
                "device": birth.device_id,
            }
            for birth in births
        ],
    }
