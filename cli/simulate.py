"""`iiot simulate`: a simulated province published through the Publisher.

The simulator is handed in by iiot/cli.py (the composition root) as a `SimulatorKit`, so this
package still imports only `iiot` and itself.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live

from iiot.contract import one_line
from iiot.settings import get_settings
from iiot.topics import Topic

console = Console()
err_console = Console(stderr=True)


class Event(Protocol):
    """One record the simulator yields (simulators.Emitted)."""

    @property
    def topic(self) -> Topic: ...
    @property
    def key(self) -> bytes: ...
    @property
    def value(self) -> bytes: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def valid(self) -> bool: ...


class Report(Protocol):
    samples: int
    missing_samples: int
    counts: dict[str, int]


class Simulation(Protocol):
    injected: Report

    def run(
        self,
        seq_base: Mapping[str, int] | None = None,
        reserve: Callable[[dict[str, int]], None] | None = None,
    ) -> Iterator[Event]: ...
    def last_seqs(self) -> dict[str, int]: ...


class SimulatorKit(Protocol):
    """What `iiot simulate` needs of the simulator (the `simulators` package has it)."""

    def Simulation(self, options: Any) -> Simulation: ...
    def SimulationOptions(self, **options: Any) -> Any: ...
    def pace(self, events: Iterable[Event], speed: float | None) -> Iterator[Event]: ...


def parse_speed(text: str) -> float | None:
    """`max` (as fast as possible) → None; `1` real time; `60` sixty times faster."""
    if text.strip().lower() in {"max", "0"}:
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = -1.0
    if speed <= 0:
        raise typer.BadParameter(f"speed is a positive number or 'max', not {text!r}")
    return speed


def parse_faults(texts: Iterable[str]) -> dict[str, float]:
    """`--fault duplicate=0.01 --fault malformed=0.001` (commas also separate) → rates."""
    rates: dict[str, float] = {}
    for part in (p.strip() for text in texts for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError(part)
            rates[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"a fault looks like 'duplicate=0.01', not {part!r}") from None
    return rates


START_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_start(text: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> datetime:
    """`now` (the wall clock, to the second: event time that follows it, as a long-running
    service needs) or an ISO 8601 time; without a zone it is UTC."""
    if text.strip().lower() == "now":
        return now().astimezone(UTC).replace(microsecond=0)
    for form in START_FORMATS:
        try:
            start = datetime.strptime(text.strip(), form)
        except ValueError:
            continue
        return start if start.tzinfo else start.replace(tzinfo=UTC)
    raise typer.BadParameter(f"start is 'now' or like 2026-11-26T08:00:00Z, not {text!r}")


def simulate_command(kit: SimulatorKit) -> Callable[..., None]:
    """The `iiot simulate` command over the given simulator."""

    def simulate(
        devices: Annotated[
            int, typer.Option("--devices", "-n", min=1, help="Province size.")
        ] = 100,
        seed: Annotated[int, typer.Option(help="Same seed and options → same stream.")] = 0,
        start: Annotated[
            str | None,
            typer.Option(help="Simulated start: ISO 8601 (UTC if no zone), or now (wall clock)."),
        ] = None,
        speed: Annotated[
            str, typer.Option(help="1 = real time, N = N× faster, max = as fast as possible.")
        ] = "1",
        duration: Annotated[
            float, typer.Option("--duration", min=0, help="Simulated seconds; 0 = until Ctrl-C.")
        ] = 3_600,
        fault: Annotated[
            list[str] | None,
            typer.Option(
                help="NAME=RATE per sample, repeatable: duplicate, out_of_order, late, "
                "gap, counter_reset, clock_skew, malformed."
            ),
        ] = None,
        spool: Annotated[
            Path | None, typer.Option(help="Spool file (default IIOT_SPOOL_PATH or .spool/).")
        ] = None,
        validate: Annotated[
            bool, typer.Option(help="Also validate the simulator's valid samples at the edge.")
        ] = False,
        workers: Annotated[
            int,
            typer.Option(
                min=1, help="Processes, each with its share of the devices and its own spool."
            ),
        ] = 1,
        quiet: Annotated[bool, typer.Option(help="No live display, only the summary.")] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Summary as one JSON object (implies --quiet).")
        ] = False,
    ) -> None:
        """Simulate the province and publish it to Kafka (spooling while Kafka is away)."""
        options: dict[str, Any] = {"seed": seed, "devices": devices}
        options["duration_s"] = duration or None
        options["faults"] = parse_faults(fault or [])
        if start is not None:
            options["start"] = parse_start(start)
        try:
            simulation = kit.Simulation(kit.SimulationOptions(**options))
        except ValidationError as exc:
            err_console.print(f"[bold red]error:[/] {one_line(exc)}", highlight=False)
            raise typer.Exit(2) from None
        pace_s = parse_speed(speed)
        if workers > 1:
            _run_workers(kit, options, pace_s, workers, spool, validate, quiet, as_json)
            return
        from producers.run import SimulateRun  # confluent-kafka: only when the command runs
        from producers.spool import SpoolLocked

        try:
            run = SimulateRun(get_settings(), spool, validate=validate)
        except SpoolLocked as exc:
            err_console.print(f"[bold red]error:[/] {exc}; give this run its own --spool")
            raise typer.Exit(1) from None
        samples = run.samples(simulation)  # seqs continue above the spool's marks
        events = kit.pace(samples, pace_s)
        with _stop_on_ctrl_c() as stop, Live(console=console, refresh_per_second=4) as live:
            if quiet or as_json:
                live.stop()
            run.publish_all(
                events,
                stop,
                None if quiet or as_json else lambda: live.update(run.panel()),
                unpaced=not pace_s,
            )
        for generator in (events, samples):  # stopped early: the simulator closes its report
            getattr(generator, "close", lambda: None)()
        run.finish(console, simulation.injected, as_json=as_json)

    return simulate


def _run_workers(
    kit: SimulatorKit,
    options: dict[str, Any],
    speed: float | None,
    workers: int,
    spool: Path | None,
    validate: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """`--workers N`: the devices dealt over N processes (producers/workers.py)."""
    from producers.run import print_summary
    from producers.workers import Workers

    settings = get_settings()
    spool = spool or settings.spool_path or Path.cwd() / ".spool/producer.sqlite"

    def make_events(
        worker: int, of: int, samples: Callable[[Simulation], Iterator[Event]]
    ) -> tuple[Simulation, Iterator[Event]]:
        simulation = kit.Simulation(kit.SimulationOptions(**options, shard=worker, shards=of))
        return simulation, kit.pace(samples(simulation), speed)

    pool = Workers(make_events, workers, settings, Path(spool), validate=validate)
    with _stop_on_ctrl_c() as stop, Live(console=console, refresh_per_second=4) as live:
        if quiet or as_json:
            live.stop()
        pool.follow(stop, None if quiet or as_json else lambda: live.update(pool.panel()))
    print_summary(console, pool.summary(), as_json=as_json)


class _stop_on_ctrl_c:
    """Ctrl-C sets a flag that the loop checks, so it never lands inside the Kafka client."""

    def __enter__(self) -> Mapping[str, bool]:
        self.flag = {"stop": False}
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self.flag

    def _on_sigint(self, *_: object) -> None:
        if self.flag["stop"]:  # twice: the user means it
            raise KeyboardInterrupt
        self.flag["stop"] = True

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)
