"""Typer commands of the simulator, registered on `iiot` by iiot/cli.py (the composition root)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulators.options import SimulationOptions
from simulators.registry import registry_export
from simulators.simulation import Simulation


def export(
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="Province size.")] = 100,
    seed: Annotated[int, typer.Option(help="Same seed and size → same registry.")] = 0,
    format: Annotated[str, typer.Option("--format", "-f", help="yaml or json.")] = "yaml",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File; default stdout.")] = None,
) -> None:
    """Write the simulated registry (every device's DeviceBirth) as YAML or JSON."""
    if format not in ("yaml", "json"):
        typer.echo(f"error: --format must be yaml or json, not {format!r}", err=True)
        raise typer.Exit(2)
    text = registry_export(Simulation(SimulationOptions(devices=devices, seed=seed)), format)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {devices} devices to {out}", err=True)
