"""`iiot adapter run|check`: real devices into the pipeline by mapping files
(producers/adapters, docs/integrating.md). Client libraries are imported when a command runs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cli.errors import fail, say
from cli.signals import StopSignals, interrupt_now
from iiot.settings import get_settings

if TYPE_CHECKING:
    from producers.adapters.runner import Adapter, Loaded
    from producers.publisher import Publisher

app = typer.Typer(help="Devices over MQTT, Sparkplug B, OPC UA or Modbus TCP, by mapping files.")
console = Console()

Files = Annotated[list[Path], typer.Argument(help="Mapping files (YAML), docs/integrating.md.")]


def _load_all(paths: list[Path]) -> list[Loaded]:
    from producers.adapters.files import MappingError, load

    try:
        return [load(path) for path in paths]
    except MappingError as exc:
        raise fail(str(exc)) from None


@app.command()
def check(
    paths: Files,
    probe: Annotated[bool, typer.Option(help="Also connect and read each device once.")] = False,
) -> None:
    """Check mapping files; with --probe, read every device's points once and show them."""
    files = _load_all(paths)
    for file in files:
        devices = file.mapping.devices
        say(f"{file.name}: {file.mapping.protocol}, {len(devices)} device(s), "
            f"{sum(len(d.points()) for d in devices)} points: ok")  # fmt: skip
    if not probe:
        return
    from producers.adapters.runner import probe as read_once
    from producers.adapters.source import SourceError

    for file in files:
        try:
            values = asyncio.run(asyncio.wait_for(read_once(file), timeout=60))
        except TimeoutError:
            raise fail(f"{file.name}: no answer within 60 s") from None
        except SourceError as exc:
            raise fail(f"{file.name}: {exc}") from None
        table, refused = _probe_table(file, values)
        console.print(table)
        if refused:  # what `run` would dead-letter: say so here, before it runs
            for line in refused:
                say(f"{file.name}: {line}")
            raise fail(f"{file.name}: {len(refused)} device(s) give readings the contract "
                       "refuses (they would be dead-lettered)")  # fmt: skip


def _probe_table(file: Loaded, values: dict[str, dict[str, object]]) -> tuple[Table, list[str]]:
    """The table of the devices' readings, and one line per device whose reading the
    contract refuses."""
    from datetime import UTC, datetime

    from iiot.contract import ContractError, decode
    from iiot.messages import Reading
    from producers.adapters.assemble import reading
    from producers.adapters.runner import unmapped_hint

    table = Table(title=f"{file.name}: one reading per device", title_justify="left")
    for column in ("device", "raw values", "reading"):
        table.add_column(column)
    refused: list[str] = []
    for device in file.mapping.devices:
        raw = values.get(device.device_id, {})
        fields = reading(device, raw, datetime.now(UTC))
        shown = {k: v for k, v in fields.items() if k not in ("device_id", "ts")}
        text = Text(json.dumps(shown, ensure_ascii=False))
        try:
            decode(Reading, json.dumps(fields))
        except ContractError as error:
            hint = unmapped_hint(device, raw)
            refused.append(f"{device.device_id}: refused: {error.reason}{hint}")
            text = Text.assemble(("refused: ", "red"), text)
        table.add_row(Text(device.device_id), Text(json.dumps(raw)), text)
    return table, refused


@app.command()
def run(
    paths: Files,
    spool: Annotated[
        Path | None, typer.Option(help="Spool file (default IIOT_SPOOL_PATH or .spool/).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No live status line, only the summary.")] = False,
) -> None:
    """Read the mapped devices and publish their readings until Ctrl-C."""
    files = _load_all(paths)
    from producers.adapters.runner import Adapter
    from producers.adapters.source import SourceError
    from producers.publisher import Publisher
    from producers.spool import SpoolLocked

    try:
        publisher = Publisher(get_settings(), spool)
    except SpoolLocked as exc:
        raise fail(f"{exc}; give this run its own --spool") from None
    try:
        adapter = Adapter(files, publisher)
    except SourceError as exc:
        raise fail(str(exc)) from None
    started = time.monotonic()
    problem: SourceError | None = None
    with (
        StopSignals(then_at_once=interrupt_now) as signals,
        Live(console=console, refresh_per_second=4) as live,
    ):
        if quiet:
            live.stop()

        def tick() -> None:
            if not quiet:
                live.update(_status_line(adapter, publisher, time.monotonic() - started))

        try:
            asyncio.run(adapter.run(signals.requested, tick))
        except SourceError as exc:
            problem = exc
    left = publisher.close()  # in the spool: the next run of the adapter sends them first
    console.print(_summary(adapter, publisher, left))
    if problem is not None:
        raise fail(str(problem))


def _status_line(adapter: Adapter, publisher: Publisher, wall_s: float) -> Table:
    status, counters = adapter.status, publisher.counters
    table = Table(title="iiot adapter", title_justify="left")
    columns = ("devices", "connected", "readings", "invalid", "reconnects", "spooled", "in spool",
               "Kafka")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(
        f"{status.devices:,}",
        f"{status.connected}/{status.sources}"
        if status.connected == status.sources
        else f"[yellow]{status.connected}/{status.sources}[/]",
        f"{status.readings:,}",
        f"[red]{status.invalid:,}[/]" if status.invalid else "0",
        f"{status.reconnects:,}",
        f"{counters.spooled:,}",
        f"{len(publisher.spool):,}",
        f"{publisher.mode.value} ({wall_s:,.0f} s)",
    )
    return table


def _summary(adapter: Adapter, publisher: Publisher, left: int) -> Table:
    from producers.display import counts_table

    status, counters = adapter.status, publisher.counters
    rows = {
        "devices mapped": status.devices,
        "readings published": status.readings,
        "refused by the contract (dead-lettered)": status.invalid,
        "redelivered, sent once": status.duplicates,
        "reconnects": status.reconnects,
        "records delivered to Kafka (acks=all, births too)": counters.delivered,
        "written to the spool": counters.spooled,
        "left in the spool (the next run sends them)": left,
    }
    return counts_table("adapter", "readings", rows)
