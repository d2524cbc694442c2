"""The connect–use–lose–back-off loop of the sources that hold one connection to a server
(Modbus TCP, OPC UA): a `Lost` connection is logged once, counted, waited out, made again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from producers.adapters.source import Backoff, Status

log = logging.getLogger(__name__)

C = TypeVar("C")


class Lost(Exception):
    """The connection is gone (or cannot be made): connect again after the backoff."""


async def keep_connected(
    name: str,
    connect: Callable[[], Awaitable[C]],
    use: Callable[[C, Backoff], Awaitable[None]],
    close: Callable[[C], Awaitable[None]],
    status: Status,
) -> None:
    """For ever: `connect()`, `use` the connection until it raises `Lost` (it resets the
    backoff once it works), `close` it, back off. `status.connected` counts the connections
    held; `status.reconnects` those lost."""
    backoff = Backoff()
    failed = 0  # attempts in a row that could not connect: warned of the first only
    while True:
        try:
            connection = await connect()
        except Lost as lost:
            failed += 1
            if failed == 1:
                log.warning("%s: %s; trying again (0.5 s doubling to 30 s)", name, lost)
            else:
                log.debug("%s: %s; trying again (attempt %d)", name, lost, failed)
            await backoff.wait()
            continue
        if failed:
            log.warning("%s: connected after %d failed attempts", name, failed)
            failed = 0
        status.connected += 1
        try:
            await use(connection, backoff)
        except Lost as lost:
            log.warning("%s: connection lost (%s); connecting again", name, lost)
            status.reconnects += 1
        finally:
            status.connected -= 1
            await close(connection)
        await backoff.wait()
