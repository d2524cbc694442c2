"""Sparkplug B: the adapter as a Sparkplug host application (docs/integrating.md).

It subscribes `spBv1.0/<group>/#` for each group of the mapping (persistent session, fixed
client id, the mapping's QoS), learns each device's metric names and aliases from its
DBIRTH, keeps its latest metric values (DDATA reports only what changed) and emits one
reading per DDATA, at the payload's timestamp. Whatever it cannot make sense of — a DDATA
before its device's DBIRTH (the adapter started after the edge node), an alias it does not
know, a gap in the edge node's sequence numbers — it skips and asks the edge node for its
births again (NCMD `Node Control/Rebirth`), as the specification says; the readings go on
from the new births. DDEATH and NDEATH are logged: the device's silence raises the
pipeline's offline alarm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from iiot import sparkplug_b as spb
from producers.adapters import mapping as m
from producers.adapters.mqtt_client import Warnings, client, client_id, stay_connected, where
from producers.adapters.source import Emit, SourceError, Status

log = logging.getLogger(__name__)

REBIRTH_EVERY_S = 5.0  # at most one rebirth request per edge node this often


@dataclass
class _Node:
    bd_seq: int | None = None
    seq: int | None = None  # of the last message; None: not born (or lost track)
    asked_at: float = -1e9  # monotonic time of the last rebirth request


@dataclass
class _Device:
    mapping: m.SparkplugDevice
    born: bool = False
    names: dict[int, str] = field(default_factory=dict)  # alias → metric name
    values: dict[str, Any] = field(default_factory=dict)  # metric name → latest value


class Source:
    """The devices of one Sparkplug B mapping file."""

    def __init__(self, mapping: m.SparkplugMapping, name: str) -> None:
        self.mapping = mapping
        self.connection = mapping.connection
        self.client_id = client_id(mapping.connection, name)
        self.groups = sorted({device.group for device in mapping.devices})
        self._devices = {
            (device.group, device.edge_node, device.device): _Device(device)
            for device in mapping.devices
        }
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._warnings = Warnings(log)
        self.rebirths_asked = 0

    # -- running ---------------------------------------------------------------------------

    async def run(self, emit: Emit, status: Status) -> None:
        async def session(mqtt: aiomqtt.Client) -> None:
            await self._subscribe(mqtt)
            async for message in mqtt.messages:
                await self.handle(mqtt, message.topic.value, message.payload, emit)

        await stay_connected(self.connection, self.client_id, status, session)

    async def _subscribe(self, mqtt: aiomqtt.Client) -> None:
        qos = int(self.connection.qos)
        await mqtt.subscribe([(f"{spb.NAMESPACE}/{group}/#", qos) for group in self.groups])

    async def handle(self, mqtt: aiomqtt.Client, topic: str, payload: Any, emit: Emit) -> None:
        """One message of the groups' topics."""
        where_ = spb.parse_topic(topic)
        if where_ is None or where_.message_type in ("NCMD", "DCMD"):
            return
        key = (where_.group, where_.edge_node)
        try:
            data = spb.decode(_bytes(payload))
        except spb.PayloadError as exc:
            self._warnings.once(f"{where_.group}/{where_.edge_node}", str(exc))
            return
        node = self._nodes.setdefault(key, _Node())
        kind = where_.message_type
        if kind == "NBIRTH":
            self._node_born(key, node, data)
            return
        if kind == "NDEATH":
            self._node_died(key, node, data)
            return
        if not self._in_sequence(key, node, data):
            await self._ask_rebirth(mqtt, key, node)
            return
        device = self._devices.get((*key, where_.device)) if where_.device else None
        if device is None:
            return  # the node's own data, or a device not mapped
        if kind == "DBIRTH":
            self._device_born(device, data)
        elif kind == "DDEATH":
            device.born = False
            log.info("%s: DDEATH (the device is offline)", device.mapping.device_id)
        elif kind == "DDATA":
            if not device.born:
                self._warnings.once(device.mapping.device_id, "DDATA before its DBIRTH: rebirth")
                await self._ask_rebirth(mqtt, key, node)
                return
            if not self._update(device, data):
                await self._ask_rebirth(mqtt, key, node)
                return
            emit(device.mapping.device_id, self._reading(device), _time(data.timestamp))

    def _node_born(self, key: tuple[str, str], node: _Node, data: spb.Payload) -> None:
        node.seq = data.seq
        node.bd_seq = _metric_value(data, spb.BD_SEQ)
        for (group, edge_node, _), device in self._devices.items():
            if (group, edge_node) == key:
                device.born = False  # until its DBIRTH
        log.info("edge node %s/%s: NBIRTH (bdSeq %s)", *key, node.bd_seq)

    def _node_died(self, key: tuple[str, str], node: _Node, data: spb.Payload) -> None:
        bd_seq = _metric_value(data, spb.BD_SEQ)
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            return  # the will of an earlier session: the node is born again already
        node.seq = None
        for (group, edge_node, _), device in self._devices.items():
            if (group, edge_node) == key:
                device.born = False
        log.warning("edge node %s/%s: NDEATH (its devices are offline)", *key)

    def _in_sequence(self, key: tuple[str, str], node: _Node, data: spb.Payload) -> bool:
        """Every message of a node after its NBIRTH has the next seq (0–255, wrapping)."""
        if node.seq is None or data.seq is None:
            if node.seq is not None:
                log.warning("edge node %s/%s: a message without seq", *key)
            node.seq = None
            return False
        expected = (node.seq + 1) % 256
        if data.seq != expected:
            log.warning(
                "edge node %s/%s: seq %d after %d (messages lost): rebirth",
                *key,
                data.seq,
                node.seq,
            )
            node.seq = None
            return False
        node.seq = data.seq
        return True

    def _device_born(self, device: _Device, data: spb.Payload) -> None:
        device.names.clear()
        device.values.clear()
        for metric in data.metrics:
            if metric.name is None:
                continue
            if metric.alias is not None:
                device.names[metric.alias] = metric.name
            if metric.value is not None:
                device.values[metric.name] = metric.value
        unknown = [
            point.metric for point in device.mapping.points().values()
            if point.metric not in {metric.name for metric in data.metrics}
        ]  # fmt: skip
        if unknown:
            self._warnings.once(device.mapping.device_id, f"no metric {unknown} in its DBIRTH")
        device.born = True

    def _update(self, device: _Device, data: spb.Payload) -> bool:
        """A DDATA's metrics into the device's latest values; False on an unknown alias."""
        for metric in data.metrics:
            name = metric.name
            if name is None:
                name = device.names.get(metric.alias) if metric.alias is not None else None
                if name is None:
                    self._warnings.once(
                        device.mapping.device_id, f"alias {metric.alias} not in its DBIRTH"
                    )
                    device.born = False
                    return False
            if metric.value is None:
                device.values.pop(name, None)
            else:
                device.values[name] = metric.value
        return True

    @staticmethod
    def _reading(device: _Device) -> dict[str, Any]:
        return {
            point_field: device.values[point.metric]
            for point_field, point in device.mapping.points().items()
            if point.metric in device.values
        }

    async def _ask_rebirth(self, mqtt: aiomqtt.Client, key: tuple[str, str], node: _Node) -> None:
        now = time.monotonic()
        if now - node.asked_at < REBIRTH_EVERY_S:
            return
        node.asked_at = now
        self.rebirths_asked += 1
        log.info("edge node %s/%s: asking for a rebirth (NCMD %s)", *key, spb.REBIRTH)
        topic = str(spb.Topic(key[0], "NCMD", key[1]))
        await mqtt.publish(topic, spb.rebirth_request(int(time.time() * 1000)), qos=0)

    # -- probing ---------------------------------------------------------------------------

    async def probe(self) -> dict[str, dict[str, Any]]:
        """Each mapped device's DBIRTH (a rebirth asked of each edge node), within twice the
        longest sample interval (at least 5 s): its values by point. A session of its own,
        clean: the adapter's persistent session keeps what is queued for it."""
        wait_s = max(5.0, 2 * max(device.sample_interval_s for device in self.mapping.devices))
        found: dict[str, dict[str, Any]] = {}
        nodes = sorted({(d.group, d.edge_node) for d in self.mapping.devices})
        try:
            async with client(self.connection, f"{self.client_id}-probe", persistent=False) as mqtt:
                await self._subscribe(mqtt)
                for group, edge_node in nodes:
                    topic = str(spb.Topic(group, "NCMD", edge_node))
                    await mqtt.publish(topic, spb.rebirth_request(int(time.time() * 1000)))
                async with asyncio.timeout(wait_s):
                    async for message in mqtt.messages:
                        where_ = spb.parse_topic(message.topic.value)
                        if where_ is None or where_.message_type != "DBIRTH":
                            continue
                        device = self._devices.get(
                            (where_.group, where_.edge_node, where_.device or "")
                        )
                        if device is None or device.mapping.device_id in found:
                            continue
                        probed = _Device(device.mapping)
                        try:
                            self._device_born(probed, spb.decode(_bytes(message.payload)))
                        except spb.PayloadError as exc:
                            raise SourceError(f"{device.mapping.device_id}: {exc}") from None
                        found[device.mapping.device_id] = self._reading(probed)
                        if len(found) == len(self._devices):
                            break
        except TimeoutError:
            pass
        except aiomqtt.MqttError as exc:
            raise SourceError(f"{where(self.connection)}: {exc}") from None
        problems = []
        silent = [
            f"{d.device_id} (spBv1.0/{d.group}/DBIRTH/{d.edge_node}/{d.device})"
            for d in self.mapping.devices
            if d.device_id not in found
        ]
        if silent:
            problems.append(f"no DBIRTH within {wait_s:g} s from " + ", ".join(silent))
        for device_id, values in found.items():
            mapped = next(d for d in self.mapping.devices if d.device_id == device_id)
            missing = [p.metric for f, p in mapped.points().items() if f not in values]
            if missing:
                problems.append(f"{device_id}: no metric {', '.join(missing)} in its DBIRTH")
        if problems:
            raise SourceError(f"{where(self.connection)}: " + "; ".join(problems))
        return found


def _metric_value(data: spb.Payload, name: str) -> Any:
    return next((metric.value for metric in data.metrics if metric.name == name), None)


def _time(ms: int | None) -> datetime | None:
    """Milliseconds since the epoch, exactly (no float in between)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)


def _bytes(payload: Any) -> bytes:
    return bytes(payload) if isinstance(payload, bytes | bytearray) else b""
