"""MQTT with JSON payloads: each device publishes its readings on a topic of its own, one
JSON object a message; the mapping picks each point by a dotted path (docs/integrating.md).

The adapter subscribes in a persistent session (clean_session false) with a fixed client id
(`connection.client_id`, default `iiot-adapter-<file name>`), at the mapping's QoS: with
QoS 1 the broker queues the messages that come while the adapter is away (restarted, or the
connection lost) and delivers them when it is back. Redelivered messages carry their own
timestamp, so the runner drops the second copy.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import orjson

from producers.adapters import mapping as m
from producers.adapters.mqtt_client import Warnings, client, client_id, stay_connected, where
from producers.adapters.source import Emit, SourceError, Status

log = logging.getLogger(__name__)

_MISSING = object()


def pick(payload: Any, path: str) -> Any:
    """The value at a dotted path ("counters.good"; a list index is a number: "axes.0.load");
    `_MISSING` where there is none."""
    value = payload
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def timestamp(raw: Any) -> datetime:
    """ISO 8601 text (a zone required) or milliseconds since the epoch."""
    if isinstance(raw, bool):
        raise ValueError(f"not a time: {raw!r}")
    if isinstance(raw, int):  # exactly, no float in between
        return datetime.fromtimestamp(raw // 1000, UTC) + timedelta(milliseconds=raw % 1000)
    if isinstance(raw, float):
        return datetime.fromtimestamp(raw / 1000, UTC)
    if isinstance(raw, str):
        ts = datetime.fromisoformat(raw)
        if ts.tzinfo is None:
            raise ValueError(f"a time without a zone: {raw!r}")
        return ts
    raise ValueError(f"not a time: {raw!r}")


class Source:
    """The devices of one MQTT mapping file (JSON payloads)."""

    def __init__(self, mapping: m.MqttMapping, name: str) -> None:
        self.mapping = mapping
        self.connection = mapping.connection
        self.client_id = client_id(mapping.connection, name)
        self._topics: dict[str, list[m.MqttDevice]] = {}
        for device in mapping.devices:
            self._topics.setdefault(device.topic, []).append(device)
        self._warnings = Warnings(log)

    async def run(self, emit: Emit, status: Status) -> None:
        async def session(mqtt: aiomqtt.Client) -> None:
            await self._subscribe(mqtt)
            async for message in mqtt.messages:
                for device in self._devices(message):
                    values, ts = self.values(device, message.payload)
                    emit(device.device_id, values, ts)

        await stay_connected(self.connection, self.client_id, status, session)

    async def _subscribe(self, mqtt: aiomqtt.Client) -> None:
        await mqtt.subscribe([(topic, int(self.connection.qos)) for topic in self._topics])

    def _devices(self, message: aiomqtt.Message) -> list[m.MqttDevice]:
        devices = self._topics.get(message.topic.value)
        if devices is not None:
            return devices
        # A mapped topic with wildcards (+, #): the devices whose filter it matches.
        return [
            device
            for pattern, mapped in self._topics.items()
            if ("+" in pattern or "#" in pattern) and message.topic.matches(pattern)
            for device in mapped
        ]

    def values(self, device: m.MqttDevice, payload: Any) -> tuple[dict[str, Any], datetime | None]:
        """The raw values of one message by point, and its time (None: none given). What is
        missing is left out, with one warning per device and problem: the contract refuses
        the reading then, naming the field."""
        try:
            document = orjson.loads(payload if isinstance(payload, bytes | str) else b"")
        except orjson.JSONDecodeError:
            self._warnings.once(device.device_id, "a payload that is not JSON")
            return {}, None
        if not isinstance(document, dict):
            self._warnings.once(device.device_id, "a payload that is not a JSON object")
            return {}, None
        values: dict[str, Any] = {}
        for field, point in device.points().items():
            value = pick(document, point.path)
            if value is _MISSING:
                self._warnings.once(device.device_id, f"no {point.path!r} in a payload ({field})")
            else:
                values[field] = value
        ts: datetime | None = None
        if device.timestamp is not None:
            raw = pick(document, device.timestamp)
            if raw is _MISSING:
                self._warnings.once(device.device_id, f"no timestamp {device.timestamp!r}")
            else:
                try:
                    ts = timestamp(raw)
                except ValueError as exc:
                    self._warnings.once(device.device_id, f"timestamp {device.timestamp}: {exc}")
        return values, ts

    async def probe(self) -> dict[str, dict[str, Any]]:
        """One message of each device, within twice the longest sample interval. A session
        of its own (a client id of its own, clean): the adapter's persistent session keeps
        its queued messages."""
        wait_s = 2 * max(device.sample_interval_s for device in self.mapping.devices) + 1
        found: dict[str, dict[str, Any]] = {}
        problems: dict[str, str] = {}
        try:
            async with client(self.connection, f"{self.client_id}-probe", persistent=False) as mqtt:
                await self._subscribe(mqtt)
                async with asyncio.timeout(wait_s):
                    async for message in mqtt.messages:
                        for device in self._devices(message):
                            if device.device_id in found:
                                continue
                            values, _ = self.values(device, message.payload)
                            found[device.device_id] = values
                            missing = [
                                point.path
                                for field, point in device.points().items()
                                if field not in values
                            ]
                            if missing:
                                problems[device.device_id] = "no " + ", ".join(missing)
                        if len(found) == len(self.mapping.devices):
                            break
        except TimeoutError:
            pass
        except aiomqtt.MqttError as exc:
            raise SourceError(f"{where(self.connection)}: {exc}") from None
        silent = [
            f"{device.device_id} ({device.topic})"
            for device in self.mapping.devices
            if device.device_id not in found
        ]
        if silent:
            problems["no message"] = f"within {wait_s:g} s from " + ", ".join(silent)
        if problems:
            raise SourceError(
                f"{where(self.connection)}: "
                + "; ".join(f"{key}: {text}" for key, text in problems.items())
            )
        return found
