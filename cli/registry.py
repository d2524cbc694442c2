"""`iiot registry export` and `publish`: registry files (iiot/registry_file.py), the
simulated province's written, any one's published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail


def export(
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="Province size.")] = 100,
    seed: Annotated[int, typer.Option(help="Same seed and size → same registry.")] = 0,
    format: Annotated[str, typer.Option("--format", "-f", help="yaml or json.")] = "yaml",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File; default stdout.")] = None,
) -> None:
    """Write the simulated registry (every device's DeviceBirth) as YAML or JSON."""
    if format not in ("yaml", "json"):
        raise fail(f"--format must be yaml or json, not {format!r}", 2)
    from simulators import Simulation, SimulationOptions, registry_export

    text = registry_export(
        Simulation(SimulationOptions(devices=devices, seed=seed)),
        "json" if format == "json" else "yaml",
    )
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {devices} devices to {out}", err=True)


def publish(
    path: Annotated[Path, typer.Argument(help="Registry file, YAML or JSON.")],
    spool: Annotated[
        Path | None, typer.Option(help="Spool file (default IIOT_SPOOL_PATH or .spool/).")
    ] = None,
) -> None:
    """Publish every DeviceBirth of a registry file to iiot.registry through the Publisher.
    The whole file is checked first: a mistake is one line, FILE:LINE: what, and nothing is
    published."""
    from iiot.registry_file import LocatedError, load

    try:
        births = load(path)
    except LocatedError as exc:
        raise fail(str(exc)) from None
    from cli.publish import Tally, finish, open_publisher

    publisher = open_publisher(spool)
    tally = Tally()
    try:
        for birth in births:
            tally.note(birth.device_id, publisher.publish_birth, birth)
    finally:
        left = publisher.close(timeout_s=30)
    finish(tally, left, publisher, stopped=False)
