"""`iiot kpi`: the KPI rows of a recording computed offline (streams/offline.py): no broker, no
database; the same rows the pipeline writes when the recording is replayed."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from cli.errors import fail, warn
from iiot.settings import get_settings

console = Console()
OEE_LEVELS = ("device", "line", "plant", "enterprise", "city", "province")
TABLES = (*OEE_LEVELS, "digitization", "deadletter")


def kpi(
    path: Annotated[Path, typer.Argument(help="A recording (docs/recording.md); - = stdin.")],
    level: Annotated[
        str | None,
        typer.Option(help=f"Comma separated, of: {', '.join(TABLES)}. Default: every OEE level."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON Lines, one row each (every table by default).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV of one table's columns.")] = False,
    skip_bad: Annotated[
        bool, typer.Option(help="Leave malformed lines out, say how many.")
    ] = False,
) -> None:
    """The OEE windows (device to province), digitization windows and dead letters of a
    recording, computed offline by the stream's own code: an oracle without any server."""
    from iiot.recording import RecordingError, read
    from streams.offline import compute

    chosen = _levels(level, as_json)
    if as_csv and len({"oee" if c in OEE_LEVELS else c for c in chosen}) > 1:
        raise fail("--csv writes one table: OEE levels, digitization or deadletter", 2)
    bad: list[RecordingError] = []
    try:
        results = compute(read(path, skip_bad=skip_bad, bad=bad), get_settings())
    except RecordingError as exc:
        raise fail(f"{path} {exc}") from None
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    if bad:
        warn(f"{len(bad)} malformed line(s) left out, the first: {bad[0]}")
    rows = [r for r in results.rows() if _table_of(r) in chosen]
    if as_json:
        out = sys.stdout.buffer
        for row in rows:
            out.write(orjson.dumps(row) + b"\n")
    elif as_csv:
        _csv(rows)
    else:
        _table(rows, results.records)


def _levels(text: str | None, everything: bool) -> set[str]:
    if text is None:
        return set(TABLES) if everything else set(OEE_LEVELS)
    chosen = {t.strip() for t in text.split(",") if t.strip()}
    if unknown := sorted(chosen - set(TABLES)):
        raise fail(f"unknown level {', '.join(unknown)}; choose of: {', '.join(TABLES)}", 2)
    return chosen


def _table_of(row: dict[str, Any]) -> str:
    return str(row["level"]) if row["table"] == "oee" else str(row["table"])


def _csv(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [c for c in rows[0] if c != "v"]
    writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _table(rows: list[dict[str, Any]], records: int) -> None:
    """One table per kind of row, the columns a person looks at first."""
    kinds = {
        "oee": ("level", "entity_id", "window_start", "samples", "availability",
                "performance", "quality", "oee"),
        "digitization": ("enterprise_id", "window_start", "devices_registered",
                         "samples_received", "completeness", "index"),
        "deadletter": ("key", "topic", "offset", "sample_index", "code", "reason"),
    }  # fmt: skip
    console.print(f"KPIs of {records:,} records", highlight=False)
    for kind, columns in kinds.items():
        chosen = [r for r in rows if r["table"] == kind]
        if not chosen:
            continue
        table = Table(title=kind, title_justify="left")
        for column in columns:
            numeric = isinstance(chosen[0].get(column), int | float)
            table.add_column(column, justify="right" if numeric else "left")
        for row in chosen:
            table.add_row(*(_shown(row.get(c)) for c in columns))
        console.print(table)


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return text[:-5].replace("T", " ") if text.endswith(":00.000Z") else text  # a window
