"""`iiot simulate`: a simulated province published through the Publisher.

The composition root hands the simulator's events to the producer: neither part imports the
other. Both are imported when the command runs (the simulator's loader, confluent-kafka).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from cli.errors import fail
from cli.signals import StopSignals, interrupt_now
from iiot.settings import get_settings

if TYPE_CHECKING:
    from producers.run import SimulateRun
    from simulators import Emitted, Simulation

console = Console()


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


START_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",  # as the messages write times: 2026-11-26T08:00:05.000Z
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)


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


def simulate(
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="Province size.")] = 100,
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
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write a recording (docs/recording.md) instead: no broker."
        ),
    ] = None,
    serve: Annotated[
        str | None,
        typer.Option(
            help="Serve the devices over opcua, modbus, mqtt or sparkplug instead, for an "
            "adapter (docs/integrating.md); --start defaults to now."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="--serve: listen on / the MQTT broker.")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="--serve: port (opcua 4840, modbus 5020, MQTT 1883).")
    ] = None,
    mapping_out: Annotated[
        Path | None, typer.Option(help="--serve: write the devices' mapping file here.")
    ] = None,
    every_device_reports: Annotated[
        bool,
        typer.Option(
            help="Every device reports from the start, without gaps: not the province's "
            "digitization maturity (docs/simulator.md), a full stream for tests and benchmarks."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No live display, only the summary.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Summary as one JSON object (implies --quiet).")
    ] = False,
) -> None:
    """Simulate the province and publish it to Kafka (spooling while Kafka is away)."""
    options: dict[str, Any] = {"seed": seed, "devices": devices}
    options["duration_s"] = duration or None
    options["faults"] = parse_faults(fault or [])
    options["every_device_reports"] = every_device_reports
    if start is not None or serve is not None:  # served devices read as of now
        options["start"] = parse_start(start or "now")
    from pydantic import ValidationError

    from iiot.contract import one_line
    from simulators import Simulation, SimulationOptions, pace

    try:
        simulation = Simulation(SimulationOptions(**options))
    except ValidationError as exc:
        raise fail(one_line(exc), 2) from None
    pace_s = parse_speed(speed)
    if serve is not None:
        from cli.serve import serve as serve_devices

        serve_devices(simulation, serve, pace_s, host, port, mapping_out)
        return
    if out is not None:
        if workers > 1:
            raise fail("--out writes one file: leave --workers out", 2)
        _record(simulation, out, as_json)
        return
    if workers > 1:
        _run_workers(options, pace_s, workers, spool, validate, quiet, as_json)
        return
    from producers.run import SimulateRun  # confluent-kafka: only when the command runs
    from producers.spool import SpoolLocked

    try:
        run = SimulateRun(get_settings(), spool, validate=validate)
    except SpoolLocked as exc:
        raise fail(f"{exc}; give this run its own --spool") from None
    samples = run.samples(simulation)  # seqs continue above the spool's marks
    events = pace(samples, pace_s, sleep=run.pause)  # waiting samples go before a pause
    with (
        StopSignals(then_at_once=interrupt_now) as signals,
        Live(console=console, refresh_per_second=4) as live,
    ):
        if quiet or as_json:
            live.stop()
        run.publish_all(
            events,
            signals.as_flag(),
            None if quiet or as_json else lambda: live.update(run.panel()),
            unpaced=not pace_s,
        )
    for generator in (events, samples):  # stopped early: the simulator closes its report
        getattr(generator, "close", lambda: None)()
    run.finish(console, simulation.injected, as_json=as_json)


def _run_workers(
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
    from simulators import Simulation, SimulationOptions, pace

    settings = get_settings()
    spool_file = Path(spool or settings.spool_path or Path.cwd() / ".spool/producer.sqlite")

    def make_events(worker: int, of: int, run: SimulateRun) -> tuple[Simulation, Iterator[Emitted]]:
        simulation = Simulation(SimulationOptions(**options, shard=worker, shards=of))
        return simulation, pace(run.samples(simulation), speed, sleep=run.pause)

    pool = Workers(make_events, workers, settings, spool_file, validate=validate)
    with (
        StopSignals(then_at_once=interrupt_now) as signals,
        Live(console=console, refresh_per_second=4) as live,
    ):
        if quiet or as_json:
            live.stop()
        pool.follow(
            signals.as_flag(), None if quiet or as_json else lambda: live.update(pool.panel())
        )
    print_summary(console, pool.summary(), as_json=as_json)


def _record(simulation: Simulation, out: Path, as_json: bool) -> None:
    """`--out`: the stream as fast as it is made, into a recording; seqs from 1."""
    import json
    from collections import Counter

    from iiot.recording import Recorded, Writer

    per_topic: Counter[str] = Counter()
    try:
        with StopSignals() as signals, Writer(out) as writer:
            for topic, key, value, timestamp_ms, _valid, _due in simulation.run():
                writer.write(Recorded(topic.value, key, value, timestamp_ms))
                per_topic[topic.value] += 1
                if signals.requested():
                    break
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    injected = {k: v for k, v in simulation.injected.counts.items() if v}
    summary = {"out": str(out), "records": sum(per_topic.values()),
               "per_topic": dict(sorted(per_topic.items())), "injected": injected}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary))
        return
    topics = ", ".join(f"{n:,} {t}" for t, n in sorted(per_topic.items()))
    faults = ", ".join(f"{n:,} {k}" for k, n in injected.items()) or "none"
    console.print(f"wrote {summary['records']:,} records to {out}: {topics}; faults: {faults}",
                  highlight=False)  # fmt: skip
