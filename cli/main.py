"""The `iiot` command line: one entry point for every part of the pipeline.

The composition root: the one module that puts the parts' commands together. Every part and
every heavy client (confluent-kafka, Faust, psycopg, paho) is imported inside the command that
needs it, so `iiot --help` loads none of them (tests/unit/test_cli_imports.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import adapter, dashboards, registry, sink, stream
from cli.demo.command import demo
from cli.errors import fail, say
from cli.kpi import kpi
from cli.publish import publish
from cli.record import record
from cli.replay import replay
from cli.report import report
from cli.simulate import simulate
from cli.verify import verify
from iiot import __version__
from iiot.contract import MODELS, ContractError, decode
from iiot.settings import get_settings
from iiot.wire.sample_batch import is_batch, sample_of, unpack

app = typer.Typer(
    name="iiot",
    help="Industrial-internet telemetry pipeline: Kafka → Faust → TimescaleDB → Grafana.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(help="Local Kafka, PostgreSQL and Mosquitto (deploy/local).")
topics_app = typer.Typer(help="The pipeline's Kafka topics.")
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")

console = Console()


def _version(value: bool) -> None:
    if value:
        console.print(f"iiot-pipeline {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Industrial-internet telemetry pipeline."""


@app.command()
def schema(
    model: Annotated[
        str | None, typer.Argument(help=f"One of: {', '.join(MODELS)}. Default: all.")
    ] = None,
) -> None:
    """Print the JSON Schema of the messages (the contract, docs/contract.md)."""
    if model is None:
        doc = {name: cls.model_json_schema() for name, cls in MODELS.items()}
    elif model in MODELS:
        doc = MODELS[model].model_json_schema()
    else:
        raise fail(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}", 2)
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


@app.command()
def validate(
    path: Annotated[
        Path, typer.Argument(help="JSON Lines file (or a recording, .gz too); - = stdin.")
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Message type.")] = "Sample",
) -> None:
    """Check messages against the contract: one line per invalid message (per invalid sample
    of a batch record), exit 1 if any. `--model Sample` takes batch records too. A recording
    (docs/recording.md) is recognised: each record is checked by its topic's model."""
    if model not in MODELS:
        raise fail(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}", 2)
    from iiot.recording import open_lines

    try:
        lines = open_lines(path)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None
    valid = invalid = 0
    recording = False
    with lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if valid + invalid == 0:  # a recording's lines are records with a topic
                recording = _is_record(line)
            check = _record_refusals if recording else lambda line: _refusals(model, line)
            refusals = check(line.rstrip(b"\r\n"))
            for index, reason in refusals:
                say(f"line {number}: {reason}" if index is None else
                    f"line {number}, sample {index}: {reason}")  # fmt: skip
            valid, invalid = (valid, invalid + 1) if refusals else (valid + 1, invalid)
    what = "record(s) of a recording" if recording else f"{model} message(s)"
    console.print(f"{valid} valid, {invalid} invalid {what}")
    if invalid:
        raise typer.Exit(1)


# The model of each topic's records, for recordings.
_TOPIC_MODELS = {
    "iiot.registry": "DeviceBirth",
    "iiot.telemetry": "Sample",
    "iiot.oee": "OeeWindow",
    "iiot.digitization": "DigitizationWindow",
    "iiot.alarms": "Alarm",
    "iiot.deadletter": "DeadLetter",
}


def _is_record(line: bytes) -> bool:
    try:
        doc = json.loads(line)
    except ValueError:
        return False
    return isinstance(doc, dict) and "topic" in doc


def _record_refusals(line: bytes) -> list[tuple[int | None, str]]:
    """A recording's line: a record whose value is its topic's model (a tombstone is)."""
    from iiot.recording import RecordingError, from_line

    try:
        record = from_line(line)
    except RecordingError as exc:
        return [(None, f"not a record: {str(exc).partition(': ')[2]}")]
    model = _TOPIC_MODELS.get(record.topic)
    if model is None:
        return [(None, f"topic {record.topic!r} is none of the pipeline's")]
    return [] if record.value is None else _refusals(model, record.value)


# Telemetry: a record is a Sample or a batch of them (docs/contract.md, "SampleBatch").
_BATCHED = frozenset({"Sample", "SampleBatch"})


def _refusals(model: str, line: bytes) -> list[tuple[int | None, str]]:
    """Why `line` is no valid `model` message: (sample index, reason) for each bad sample
    of a batch record, (None, reason) for a message refused whole; nothing if it is valid."""
    try:
        batch = unpack(line) if model in _BATCHED and is_batch(line) else None
        if batch is None:  # a Sample; with --model SampleBatch anything else is refused
            decode(MODELS[model], line)
            return []
    except ContractError as exc:
        return [(None, exc.reason)]
    refusals: list[tuple[int | None, str]] = []
    for index, element in enumerate(batch.samples):
        try:
            sample_of(batch.device_id, element)
        except ContractError as exc:
            refusals.append((index, exc.reason))
    return refusals


def _print_status() -> bool:
    from cli import stack  # psycopg, paho: only when the command runs

    table = Table(title="local services")
    for column in ("service", "address", "state", "detail"):
        table.add_column(column)
    statuses = stack.status()
    for s in statuses:
        state = "[green]answering[/]" if s.answering else "[red]down[/]"
        table.add_row(s.name, s.address, state, s.detail)
    console.print(table)
    return all(s.answering for s in statuses)


@stack_app.command("up")
def stack_up() -> None:
    """Install if needed, start, wait until each service answers, create the topics."""
    from cli import stack
    from iiot import kafka_admin

    try:
        stack.run_script("up")
        created = kafka_admin.ensure_topics(get_settings())
    except (stack.StackError, kafka_admin.BrokerUnreachable) as exc:
        raise fail(str(exc)) from None
    if created:
        console.print(f"created topics: {', '.join(created)}")
    if not _print_status():
        raise fail("a service does not answer (see above)")


@stack_app.command("down")
def stack_down(
    purge: Annotated[bool, typer.Option(help="Also delete all data of the services.")] = False,
) -> None:
    """Stop the local services; their data is kept unless --purge."""
    from cli import stack

    try:
        stack.run_script("down", *(["--purge"] if purge else []))
    except stack.StackError as exc:
        raise fail(str(exc)) from None


@stack_app.command("status")
def stack_status() -> None:
    """Show each service, its address and whether it answers; exit 1 if one does not."""
    if not _print_status():
        raise typer.Exit(1)


@topics_app.command("create")
def topics_create() -> None:
    """Create the pipeline's topics (with IIOT_TOPIC_PREFIX) that are missing."""
    from iiot import kafka_admin

    try:
        created = kafka_admin.ensure_topics(get_settings())
    except kafka_admin.BrokerUnreachable as exc:
        raise fail(str(exc)) from None
    console.print(f"created: {', '.join(created) or 'none, all exist'}")


# The parts' commands, one line each. Their modules import the parts and heavy clients inside
# the command functions, so registering them costs nothing.
registry_app = typer.Typer(help="The device registry (iiot.registry).")
app.add_typer(registry_app, name="registry")
registry_app.command("export")(registry.export)
registry_app.command("publish")(registry.publish)
app.add_typer(sink.db_app, name="db")
app.add_typer(sink.sink_app, name="sink")
app.command("stream")(stream.stream)
app.command("simulate")(simulate)
app.command("publish")(publish)
app.command("record")(record)
app.command("replay")(replay)
app.command("kpi")(kpi)
app.command("verify")(verify)
app.command("demo")(demo)
app.command("report")(report)
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(adapter.app, name="adapter")
