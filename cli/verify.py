"""`iiot verify`: golden scenarios replayed through the pipeline, its rows against the expected.

A scenario is a directory with `recording.jsonl` (or `.jsonl.gz`, docs/recording.md) and
`expected.jsonl` (rows as iiot/kpi_diff.py reads them). Each runs under a topic prefix and
a database schema of its own, with its own stream worker and sink (as `iiot demo` runs
them), replayed at full speed; once nothing is behind or moving, the database's rows are
compared with the expected ones, and the run's topics and schema are dropped.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from cli.demo import children
from cli.demo.children import Child, ChildFailed
from cli.demo.plan import RunNames
from cli.errors import fail, say
from cli.signals import StopSignals
from iiot.oee import from_ms
from iiot.settings import Settings, get_settings
from iiot.types import format_ts

console = Console()
EMIT_INTERVAL_S = 1.0  # small scenarios: windows out soon, the drain short
SETTLE_TIMEOUT_S = 300.0
REPLAY_TIMEOUT_S = 600.0
DAY_MS = 86_400_000


@dataclass(frozen=True)
class ScenarioRun(RunNames):
    """One scenario's run: its own topic prefix, schema and directory."""

    settings: Settings  # the user's
    run_id: str
    home: Path

    @property
    def topic_prefix(self) -> str:
        return f"{self.settings.topic_prefix}verify-{self.run_id}."

    @property
    def schema(self) -> str:
        return f"verify_{self.run_id}"

    @property
    def run_dir(self) -> Path:
        return self.home / self.run_id

    def child_env(self) -> dict[str, str]:
        return self.names_env() | {"IIOT_STREAM_EMIT_INTERVAL_S": f"{EMIT_INTERVAL_S:g}"}


def verify(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario directories: recording.jsonl + expected.jsonl.")
    ],
    tolerance: Annotated[
        float, typer.Option(min=0, help="Numbers may differ by this much (absolute).")
    ] = 1e-6,
    speed: Annotated[
        str, typer.Option(help="Replay speed: max, 1 (as recorded) or N× (iiot replay).")
    ] = "max",
    kill_worker_after: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="SIGKILL the stream worker this many seconds into the replay, then "
            "start it again: the rows must not change.",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="Keep each run's topics, schema and logs to look at.")
    ] = False,
) -> None:
    """Replay golden scenarios through the pipeline (a worker and a sink of their own) and
    compare the rows it writes with the expected ones; exit 1 on any difference."""
    from iiot.kpi_diff import compare

    settings = get_settings()
    failed = 0
    with StopSignals() as signals:
        for scenario in scenarios:
            recording, expected = _scenario(scenario)
            run = ScenarioRun(settings, uuid.uuid4().hex[:8], Path(".verify").resolve())
            started = time.monotonic()
            try:
                actual = _run(run, recording, signals.requested, speed, kill_worker_after)
            except ChildFailed as exc:
                for line in children.tail(exc.child.log):
                    say(f"  {line}")
                raise fail(f"{scenario}: {exc}") from None
            finally:
                if not keep:
                    _discard(run)
            differences = compare(expected, actual, tolerance)
            wall = time.monotonic() - started
            if differences:
                failed += 1
                console.print(f"[red]FAIL[/] {scenario}: {len(differences)} difference(s) "
                              f"in {len(expected)} expected rows ({wall:.0f} s)")  # fmt: skip
                _show(differences)
            else:
                console.print(f"[green]PASS[/] {scenario}: {len(expected)} expected rows "
                              f"as written ({wall:.0f} s)")  # fmt: skip
                if not keep:
                    shutil.rmtree(run.run_dir, ignore_errors=True)  # a failure keeps its logs
            if differences and not keep:
                say(f"  the run's logs: {run.run_dir}")
            if keep:
                say(f"  kept: topics {run.topic_prefix}*, schema {run.schema}, logs {run.run_dir}")
    if failed:
        raise typer.Exit(1)


def _scenario(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    recording = next(
        (path / n for n in ("recording.jsonl", "recording.jsonl.gz") if (path / n).exists()),
        None,
    )
    if recording is None:
        raise fail(f"{path}: no recording.jsonl (or .jsonl.gz) in it", 2)
    rows = []
    try:
        lines = (path / "expected.jsonl").read_bytes().splitlines()
    except OSError as exc:
        raise fail(f"{path}: cannot read expected.jsonl ({exc.strerror})", 2) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            assert isinstance(row, dict) and row.get("table") in {"oee", "digitization",
                                                                  "deadletter"}  # fmt: skip
        except (orjson.JSONDecodeError, AssertionError):
            raise fail(f"{path}/expected.jsonl line {number}: not a row with a table "
                       "(oee, digitization or deadletter)", 2) from None  # fmt: skip
        rows.append(row)
    return recording, rows


def _run(
    run: ScenarioRun, recording: Path, interrupted: Any, speed: str, kill_after_s: float | None
) -> list[dict[str, Any]]:
    """Topics and schema made, worker and sink started, the recording replayed (the worker
    killed and restarted meanwhile, if asked), drained."""
    import psycopg

    from cli.demo.command import Drain
    from cli.demo.probe import Probe
    from iiot import kafka_admin
    from sinks.migrate import migrate

    run.run_dir.mkdir(parents=True, exist_ok=True)
    settings, env = run.run_settings(), run.child_env()
    kafka_admin.ensure_topics(settings, timeout_s=30)
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
        migrate(conn, run.schema, settings)
    parts: list[Child] = [
        children.start("sink", ["sink", "--no-migrate"], env, run.run_dir),
        children.start("stream", ["stream", "--loglevel", "info"], env, run.run_dir),
    ]
    first_ms = _first_ms(recording)
    days = _days_old(first_ms)
    replay_args = ["replay", str(recording), "--speed", speed, "--quiet"]
    if first_ms is not None and days:
        replay_args += ["--rebase", format_ts(from_ms(first_ms + days * DAY_MS))]
    try:
        replay = children.start("replay", replay_args, env, run.run_dir)
        started = time.monotonic()
        while replay.running():
            if interrupted() or time.monotonic() - started > REPLAY_TIMEOUT_S:
                children.stop([replay])
                raise ChildFailed(replay, -1)
            if kill_after_s is not None and time.monotonic() - started >= kill_after_s:
                kill_after_s = None
                parts[1] = _restarted(parts[1], env, run)
            time.sleep(0.1)
        if replay.exit_code() != 0:
            raise ChildFailed(replay, replay.exit_code() or 0)
        probe = Probe(run)  # type: ignore[arg-type]
        drain = Drain(quiet_s=2 * EMIT_INTERVAL_S + 5)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        try:
            while time.monotonic() < deadline and not interrupted():
                for part in parts:
                    if not part.running():
                        raise ChildFailed(part, part.exit_code() or 0)
                verdict = drain.verdict(probe.read())
                if verdict == "drained":
                    break
                if verdict == "stuck":
                    raise typer.Exit(_stuck(run))
                time.sleep(0.5)
        finally:
            probe.close()
        return _moved_back(_rows(settings), days)
    finally:
        children.stop(parts)


def _first_ms(recording: Path) -> int | None:
    from iiot.recording import read

    return next((r.timestamp_ms for r in read(recording) if r.timestamp_ms is not None), None)


def _days_old(first_ms: int | None) -> int:
    """Whole days between the recording's first time and now. Replayed as it is, an old
    recording's telemetry is older than the topic's retention (7 days, by timestamp): Kafka
    may delete it before the worker reads it, or re-reads it after a restart. Moved on by
    whole days, every window, hour and shift stays the same."""
    return 0 if first_ms is None else max(0, (int(time.time() * 1000) - first_ms) // DAY_MS)


def _moved_back(rows: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The rows at the recording's own times again, to compare with the expected ones."""
    back = timedelta(days=days)
    return [
        row | {c: row[c] - back for c in ("window_start", "window_end") if c in row} for row in rows
    ]


def _restarted(worker: Child, env: dict[str, str], run: ScenarioRun) -> Child:
    """SIGKILL (no flush, no commit), then the same worker again, writing on in its log."""
    import os
    import signal

    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()
    say(f"  stream worker killed at {time.strftime('%H:%M:%S')}, started again")
    return children.start("stream", ["stream", "--loglevel", "info"], env, run.run_dir)


def _stuck(run: ScenarioRun) -> int:
    say(f"error: the pipeline stopped moving with records behind; logs in {run.run_dir}")
    return 1


def _rows(settings: Settings) -> list[dict[str, Any]]:
    """Every OEE and digitization window and dead letter the sink wrote."""
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    rows: list[dict[str, Any]] = []
    with psycopg.connect(settings.pg_reader_dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.pg_schema)))
        for table in ("oee", "digitization"):
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
            rows += [{"table": table, **r} for r in conn.execute(query)]
        rows += [
            {"table": "deadletter", **r}
            for r in conn.execute("SELECT key, code, origin_topic, sample_index FROM deadletter")
        ]
    return rows


def _discard(run: ScenarioRun) -> None:
    """The run's schema and topics (its prefix is its own: `verify-<run id>.`)."""
    import psycopg
    from psycopg import sql

    from iiot import kafka_admin

    settings = run.run_settings()
    try:
        with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as conn:
            query = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
            conn.execute(query.format(sql.Identifier(run.schema)))
        kafka_admin.delete_prefixed_topics(run.topic_prefix, settings)
    except Exception as exc:  # the result stands; say what is left behind
        say(f"warning: could not drop {run.schema} / {run.topic_prefix}* ({exc})")


def _show(differences: list[Any]) -> None:
    table = Table()
    for column in ("table", "row", "column", "expected", "actual"):
        table.add_column(column)
    for d in differences[:50]:
        table.add_row(d.table, d.key, d.column, repr(d.expected), repr(d.actual))
    console.print(table)
    if len(differences) > 50:
        console.print(f"… and {len(differences) - 50} more")
