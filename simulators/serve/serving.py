"""Feeding a served protocol's server (Modbus, OPC UA): it listens once every device has had
its first sample (before that a device would show zeros: state 0, which no state-code table
maps, and an ideal cycle of 0), then each sample is written as it comes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from simulators.serve.feed import Served


class Network(Protocol):
    """A server of served devices."""

    @property
    def listening(self) -> bool: ...

    def complete(self) -> bool:
        """Every device has had a sample."""

    async def start(self) -> None:
        """Listen, with the values as they are now."""

    async def stop(self) -> None: ...

    async def write(self, served: Served) -> None:
        """One sample into its device's values (and to the clients, if listening)."""


async def feed_into(server: Network, samples: AsyncIterator[Served]) -> None:
    """Write the samples as they come; start listening when every device has one (or when
    they end). Started once: a server stopped later (a test's restart) is not started here."""
    started = False
    async for sample in samples:
        await server.write(sample)
        if not started and server.complete():
            await server.start()
            started = True
    if not started:
        await server.start()


async def serve_until_cancelled(server: Network, samples: AsyncIterator[Served]) -> None:
    """`feed_into`, then keep the last values served until cancelled."""
    try:
        await feed_into(server, samples)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
