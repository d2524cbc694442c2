"""`iiot record`: topics into a recording file (docs/recording.md)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.errors import fail
from cli.signals import StopSignals
from cli.simulate import parse_start
from iiot.settings import get_settings
from iiot.topics import Topic

console = Console(stderr=True)  # the recording may go to stdout
INPUTS = f"{Topic.REGISTRY.value},{Topic.TELEMETRY.value}"


def record(
    out: Annotated[Path, typer.Option("--out", "-o", help="File; .gz compresses; - = stdout.")],
    topics: Annotated[
        str, typer.Option(help="Logical topic names, comma separated (without the prefix).")
    ] = INPUTS,
    since: Annotated[
        str,
        typer.Option("--from", help="earliest, latest, or a time (ISO 8601, UTC if no zone)."),
    ] = "earliest",
    to: Annotated[
        str | None, typer.Option(help="Stop each partition at its first record after this.")
    ] = None,
    most: Annotated[int | None, typer.Option("--max", min=1, help="At most N records.")] = None,
    follow: Annotated[
        bool, typer.Option(help="Go on past the end, until Ctrl-C (or --to, --max).")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar, only the summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as one JSON object.")] = False,
) -> None:
    """Record topics to a file: every record as it is on the broker (bad ones too), each
    partition up to its end when recording began. Ctrl-C leaves a whole file."""
    from iiot.recording import Writer
    from producers.recorder import Recorder, RecordError

    names = [t.strip() for t in topics.split(",") if t.strip()]
    if not names:
        raise fail("--topics names at least one topic", 2)
    start = since if since in {"earliest", "latest"} else parse_start(since)
    until_ms = int(parse_start(to).timestamp() * 1000) if to else None
    settings = get_settings()
    recorder = Recorder(settings, names, since=start, until_ms=until_ms, follow=follow)
    began = time.monotonic()
    per_topic: Counter[str] = Counter()
    try:
        reach = recorder.plan()
        with (
            StopSignals() as signals,
            Writer(out) as writer,
            Progress(
                TextColumn("recording"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=quiet or as_json,
            ) as progress,
        ):
            task = progress.add_task("records", total=None if follow else reach.total())
            records = recorder.records(signals.requested, most, idle=writer.flush)  # tail -f
            for n, recorded in enumerate(records, 1):
                writer.write(recorded)
                per_topic[recorded.topic] += 1
                if n % 1000 == 0:
                    progress.update(task, completed=n)
            progress.update(task, completed=recorder.read)
            stopped = signals.requested()
    except RecordError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        recorder.close()
    summary = {
        "out": str(out),
        "records": sum(per_topic.values()),
        "per_topic": dict(sorted(per_topic.items())),
        "stopped": stopped,
        "wall_s": round(time.monotonic() - began, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    topics_text = ", ".join(f"{n:,} {t}" for t, n in sorted(per_topic.items())) or "none"
    how = " (stopped)" if stopped else ""
    console.print(
        f"recorded {summary['records']:,} records{how} to {out}: {topics_text}",
        highlight=False,
    )
