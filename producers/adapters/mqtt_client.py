"""What the two MQTT sources share: a client of a mapping's connection, the loop that keeps
it connected (`Backoff`, `Status`), and warnings given once."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt

from producers.adapters import mapping as m
from producers.adapters.source import Backoff, Status

log = logging.getLogger(__name__)


def client_id(connection: m.MqttConnection, name: str) -> str:
    """The fixed client id of the adapter's persistent session: the broker keeps its
    subscriptions and queues QoS-1 messages for it while the adapter is away."""
    return connection.client_id or f"iiot-adapter-{name}"


def client(
    connection: m.MqttConnection, identifier: str, *, persistent: bool, timeout_s: float = 10.0
) -> aiomqtt.Client:
    """A client of `connection` (not connected yet: `async with`). `persistent`: a session
    the broker keeps (clean_session false); else one it forgets at disconnect."""
    return aiomqtt.Client(
        connection.host,
        connection.port,
        username=connection.username,
        password=connection.password,
        identifier=identifier,
        clean_session=not persistent,
        tls_context=ssl.create_default_context() if connection.tls else None,
        timeout=timeout_s,
        keepalive=15,
    )


def where(connection: m.MqttConnection) -> str:
    return f"mqtt{'s' if connection.tls else ''}://{connection.host}:{connection.port}"


async def stay_connected(
    connection: m.MqttConnection,
    identifier: str,
    status: Status,
    session: Callable[[aiomqtt.Client], Awaitable[None]],
) -> None:
    """Connect (persistent session) and run `session` until the connection is lost, then
    wait (`Backoff`) and connect again; for ever. A lost connection is logged once, and
    once more when it is back."""
    backoff = Backoff()
    down = False  # warned that the broker cannot be reached
    while True:
        connected = False
        try:
            async with client(connection, identifier, persistent=True) as mqtt:
                connected = True
                if down:
                    log.warning("%s: connected again", where(connection))
                    down = False
                status.connected += 1
                backoff.reset()
                try:
                    await session(mqtt)
                finally:
                    status.connected -= 1
        except aiomqtt.MqttError as exc:
            if connected:
                status.reconnects += 1
            if not down:
                what = "connection lost" if connected else "cannot connect"
                log.warning("%s: %s (%s); connecting again", where(connection), what, exc)
                down = True
            await backoff.wait()


class Warnings:
    """One warning per device and problem, not one per message."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._given: set[tuple[str, str]] = set()

    def once(self, device_id: str, problem: str) -> None:
        if (device_id, problem) not in self._given:
            self._given.add((device_id, problem))
            self._log.warning("%s: %s (warned once)", device_id, problem)
