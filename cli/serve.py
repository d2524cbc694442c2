"""`iiot simulate --serve PROTOCOL`: the simulated devices over a real protocol, for an
adapter to read (simulators/serve, docs/integrating.md), and the mapping file to read them by.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped]

from cli.errors import fail, say
from cli.signals import StopSignals, interrupt_now

if TYPE_CHECKING:
    from simulators import Simulation

PROTOCOLS = ("opcua", "modbus", "mqtt", "sparkplug")
# Where each listens (OPC UA, Modbus: a server of its own) or publishes (MQTT: the broker).
DEFAULT_PORTS = {"opcua": 4840, "modbus": 5020, "mqtt": 1883, "sparkplug": 1883}


def serve(
    simulation: Simulation,
    protocol: str,
    speed: float | None,
    host: str,
    port: int | None,
    mapping_out: Path | None,
) -> None:
    if protocol not in PROTOCOLS:
        raise fail(f"--serve takes {', '.join(PROTOCOLS)}, not {protocol!r}", 2)
    served = importlib.import_module(f"simulators.serve.{protocol}")
    port = port or DEFAULT_PORTS[protocol]
    if mapping_out is not None:
        mapping = served.mapping(simulation.births(), host, port)
        try:
            mapping_out.write_text(
                yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8"
            )
        except OSError as exc:
            raise fail(f"cannot write {mapping_out}: {exc.strerror}") from None
        say(f"wrote the mapping of {len(simulation.births())} devices to {mapping_out}")
    say(f"serving {len(simulation.births())} simulated devices over {protocol} at {host}:{port}"
        " (Ctrl-C stops)")  # fmt: skip
    with StopSignals(then_at_once=interrupt_now) as signals:
        try:
            asyncio.run(_until(served.serve(simulation, speed, host, port), signals.requested))
        except OSError as exc:
            raise fail(f"cannot serve {protocol} at {host}:{port}: {exc.strerror or exc}") from None


async def _until(serving: Coroutine[Any, Any, None], stop: Callable[[], bool]) -> None:
    """Serve until the simulation ends or a stop is asked for."""
    task = asyncio.ensure_future(serving)
    while not task.done() and not stop():
        await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
