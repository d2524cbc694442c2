"""`iiot demo`: start the services, migrate, run simulator, stream worker and sink as
separate processes for a few minutes of wall time, then stop them and print what the
database views say.

The parts are the ordinary `iiot simulate | stream | sink` commands, so what the demo shows
is what an operator would run; they share nothing but the run's topics and schema.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from cli.demo import children
from cli.demo.children import Child, ChildFailed
from cli.demo.plan import DemoPlan, default_start, new_run_id
from cli.errors import fail, say, warn
from cli.signals import StopSignals
from iiot.settings import get_settings

if TYPE_CHECKING:  # probe, summary, runs and display load psycopg and confluent-kafka:
    from cli.demo.probe import Probe, Reading  # imported when the demo runs, not at `--help`
    from cli.demo.summary import Summary

DEFAULT_FAULTS = "malformed=0.0005,duplicate=0.001,out_of_order=0.001,late=0.0005,gap=0.0002"
TICK_S = 1.0
STUCK_S = 60.0  # draining gives up when nothing has moved for this long (the sink can pause ~30 s)

console = Console()
err_console = Console(stderr=True)


class Interrupted(Exception):
    """Ctrl-C: stop every part, say where the logs are, exit 130."""


@dataclass
class DemoRun:
    plan: DemoPlan
    interrupts: StopSignals
    show: bool  # live panel and tables (off for --json)
    parts: list[Child] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)  # the command's start
    started: float = field(default_factory=time.monotonic)  # the parts' start
    drained: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # phase → wall seconds

    # -- steps ---------------------------------------------------------------------------

    def one_shot(self, name: str, args: list[str], doing: str, done: str, timeout_s: float) -> None:
        """A step that runs to its end: `stack up`, `db migrate`, …; its log in the run dir."""
        status = err_console.status(f"{doing} (log: {shown(self.plan.run_dir / name)}.log)")
        if self.show:
            status.start()
        try:
            children.run_to_end(
                name, args, self.plan.child_env(), self.plan.run_dir,
                interrupted=self.interrupts.requested, timeout_s=timeout_s,
            )  # fmt: skip
        except KeyboardInterrupt:
            raise Interrupted from None
        finally:
            status.stop()
        if self.show:
            console.print(f"[green]✓[/] {done}")

    def start_parts(self) -> None:
        plan, env = self.plan, self.plan.child_env()
        simulate = ["simulate", "--devices", str(plan.devices), "--speed", f"{plan.speed:g}"]
        simulate += ["--duration", f"{plan.factory_s:g}", "--seed", str(plan.seed)]
        simulate += ["--start", plan.start.strftime("%Y-%m-%dT%H:%M:%S%z"), "--json"]
        simulate += ["--spool", env["IIOT_SPOOL_PATH"]]
        simulate += ["--fault", plan.faults] if plan.faults else []
        parts = [("sink", ["sink", "--no-migrate"]), ("stream", ["stream", "--loglevel", "info"])]
        for name, args in parts:
            self.parts.append(children.start(name, args, env, plan.run_dir))
        self.parts.append(children.start("simulate", simulate, env, plan.run_dir))
        self.started = time.monotonic()
        self.timings["setup"] = self.started - self.began

    def check_parts(self) -> bool:
        """True once the simulator has finished its run; `ChildFailed` if any part failed."""
        simulator_done = False
        for part in self.parts:
            code = part.exit_code()
            if code is None:
                continue
            if part.name == "simulate" and code == 0:
                simulator_done = True
            else:  # the stream worker and the sink run until stopped; exiting is failing
                raise ChildFailed(part, code)
        return simulator_done

    def watch(self, probe: Probe) -> Reading | None:
        """Publishing, then draining, with the live panel; returns the last reading."""
        from cli.demo.display import live_panel

        reading: Reading | None = None
        phase = "running the pipeline: simulator → Kafka → stream worker → sink"
        drain: Drain | None = None
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            if not self.show:
                live.stop()
            while True:
                if self.interrupts.requested():
                    raise Interrupted
                if drain is None and self.check_parts():
                    phase = "simulator done; waiting until the stream worker and the sink catch up"
                    drain = Drain(quiet_s=2 * self.plan.emit_interval_s + 5)
                    self.timings["publishing"] = self.elapsed()
                reading = probe.read()
                verdict = drain.verdict(reading) if drain else None
                if verdict is not None:
                    self.drained = verdict == "drained"
                    self.timings["draining"] = self.elapsed() - self.timings["publishing"]
                    return reading
                if self.show:
                    live.update(live_panel(self.plan, phase, self.elapsed(), reading))
                time.sleep(TICK_S)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stop_parts(self) -> None:
        """The simulator first (no new input), then the worker and the sink."""
        hurry = self.interrupts.insisted
        for group in (("simulate",), ("stream", "sink")):
            children.stop([p for p in self.parts if p.name in group], hurry=hurry)


@dataclass
class Drain:
    """When to stop waiting after the simulator is done.

    Drained: nothing behind and nothing new on any topic for `quiet_s` — longer than two of
    the worker's emit intervals, since device windows and then roll-ups wait for its timer.
    Stuck: something behind but nothing moving for STUCK_S; a slow machine that still makes
    progress is waited for.
    """

    quiet_s: float
    last: tuple[int, int, int] | None = None
    since: float = field(default_factory=lambda: time.monotonic())  # looked up when made

    def verdict(self, reading: Reading | None) -> str | None:
        """ "drained", "stuck", or None to keep waiting."""
        now = time.monotonic()
        signature = None if reading is None else (reading.newest, *reading.lags())
        if signature is not None and signature != self.last:
            self.last, self.since = signature, now
            return None
        idle_s = now - self.since
        if reading is not None and reading.drained():
            return "drained" if idle_s >= self.quiet_s else None
        return "stuck" if idle_s > STUCK_S else None


def _report_failure(exc: ChildFailed) -> None:
    err_console.print(Text(f"── last lines of {exc.child.log} ──", style="dim"), highlight=False)
    for line in children.tail(exc.child.log):  # as written: a log line is not markup
        err_console.print(Text(line, style="dim"), highlight=False)
    fail(str(exc))


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when inside."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _grafana_hint(plan: DemoPlan) -> str:
    out = shown(plan.run_dir / "grafana")
    return (
        f"Grafana provisioning for this run (schema {plan.schema}) is in {out}/: mount "
        f"provisioning/ at /etc/grafana/provisioning and dashboards/ at "
        f"/var/lib/grafana/dashboards, or push it to a running Grafana with "
        f"`iiot dashboards push -o {out}` (IIOT_GRAFANA_URL); time range "
        f"{plan.start:%Y-%m-%d %H:%M} – {plan.end:%H:%M} UTC."
    )


def _finish(run: DemoRun, summary: Summary, as_json: bool) -> None:
    from cli.demo.display import summary_view

    plan = run.plan
    doc = {
        "run_id": plan.run_id, "topic_prefix": plan.topic_prefix, "schema": plan.schema,
        "run_dir": str(plan.run_dir), "devices_simulated": plan.devices, "speed": plan.speed,
        "wall_s": plan.wall_s, "drained": run.drained,
        "timings_s": {k: round(v, 1) for k, v in run.timings.items()}
        | {"total": round(time.monotonic() - run.began, 1)},
        **summary.as_json(),
    }  # fmt: skip
    (plan.run_dir / "summary.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    if as_json:
        console.print(json.dumps(doc, ensure_ascii=False), soft_wrap=True, highlight=False)
        return
    console.print(summary_view(summary))
    if not run.drained:
        console.print("[yellow]the stream worker or the sink had not caught up when stopped[/]")
    console.print(_grafana_hint(plan), highlight=False)
    console.print(f"logs and summary.json: {shown(plan.run_dir)}/", highlight=False)


def _run(run: DemoRun, keep: int) -> None:
    from cli.demo import runs
    from cli.demo.display import live_panel
    from cli.demo.probe import Probe

    plan = run.plan
    runs.write_record(plan)
    up = "starting the local services (first time: installs them, a few minutes)"
    run.one_shot("stack-up", ["stack", "up"], up, "local services answering (iiot stack up)", 1800)
    discarded, problem = runs.prune(plan, keep)
    if discarded and run.show:
        console.print(f"dropped earlier demo runs: {', '.join(discarded)}", highlight=False)
    if problem:
        warn(problem)
    migrated = f"schema {plan.schema} migrated"
    run.one_shot("migrate", ["db", "migrate"], "migrating", migrated, 300)
    run.start_parts()
    probe = Probe(plan)
    try:
        last = run.watch(probe)
    finally:
        probe.close()
        run.stop_parts()
    if run.show:
        console.print(live_panel(plan, "stopped", run.elapsed(), last))
    refreshed = "hourly and daily roll-ups refreshed"
    run.one_shot("maintain", ["db", "maintain"], "refreshing roll-ups", refreshed, 300)
    grafana = ["dashboards", "build", "--out", str(plan.run_dir / "grafana")]
    grafana += ["--schema", plan.schema]
    run.one_shot("dashboards", grafana, "building dashboards", "Grafana provisioning built", 300)


def demo(
    # 60 devices (9 enterprises in all six cities, 38 reporting) at 60× is ~520 samples/s: one
    # stream worker keeps up with on a busy 2-core machine, so the run ends on time.
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="Devices.")] = 60,
    speed: Annotated[
        float, typer.Option(min=1, help="Factory seconds per wall second (60: an hour a minute).")
    ] = 60.0,
    duration: Annotated[
        float, typer.Option("--duration", min=5, help="Wall seconds the factory runs.")
    ] = 180.0,
    seed: Annotated[int, typer.Option(help="Same seed → same factory.")] = 0,
    faults: Annotated[
        str, typer.Option(help="Injected faults, NAME=RATE,… ('' for none); see iiot simulate.")
    ] = DEFAULT_FAULTS,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"],
            help="Factory time of the first sample. Default: today 00:00 UTC (08:00 in Shandong).",
        ),
    ] = None,
    keep: Annotated[
        int, typer.Option(min=0, help="Earlier runs kept (schema, topics); older are dropped.")
    ] = 2,
    home: Annotated[Path, typer.Option(help="Where runs keep their logs.")] = Path(".demo"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Only the summary, as one JSON object.")
    ] = False,
) -> None:
    """The whole pipeline on this machine for a few minutes, then what the database says."""
    start_at = start if start is None or start.tzinfo else start.replace(tzinfo=UTC)
    plan = DemoPlan(
        devices, speed, duration, seed, faults,
        start_at or default_start(factory_s=duration * speed), new_run_id(),
        home.resolve(), get_settings(),
    )  # fmt: skip
    import psycopg

    from cli.demo.summary import read_summary

    with StopSignals() as interrupts:
        run = DemoRun(plan, interrupts, show=not as_json)
        try:
            _run(run, keep)
        except ChildFailed as exc:
            run.stop_parts()
            _report_failure(exc)
            raise typer.Exit(1) from None
        except Interrupted:
            run.stop_parts()
            say(f"interrupted; every part stopped. Logs: {shown(plan.run_dir)}/")
            raise typer.Exit(130) from None
        try:
            summary = read_summary(plan.settings.pg_reader_dsn, plan.schema, plan.end)
        except psycopg.Error as exc:
            raise fail(f"reading the views: {' '.join(str(exc).split())}") from None
        _finish(run, summary, as_json)
