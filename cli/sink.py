"""`iiot db migrate|maintain` and `iiot sink [status]`: the sink's command line.

Heavy clients (psycopg, confluent-kafka) are imported inside the commands so `iiot --help`
stays fast.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import fail, say
from cli.signals import StopSignals
from iiot.settings import Settings, get_settings

console = Console()

db_app = typer.Typer(help="The database: migrations and upkeep (docs/schema.md).")
sink_app = typer.Typer(
    help="Kafka → database: consume every topic and write it in batches.",
    invoke_without_command=True,
)

SchemaOption = Annotated[
    str | None, typer.Option("--schema", help="Database schema (default: IIOT_PG_SCHEMA).")
]


def _connect(settings: Settings, dsn: str | None = None):  # type: ignore[no-untyped-def]
    """The writer's connection, or `dsn`'s (the migrator's, for schema work)."""
    import psycopg

    try:
        return psycopg.connect(dsn or settings.pg_writer_dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise fail(f"PostgreSQL did not answer ({reason}); is it up? `iiot stack up`") from None


def run_migrations(settings: Settings, schema: str) -> tuple[str, list[str]]:
    from sinks.migrate import MigrationError, migrate

    with _connect(settings, settings.pg_migrator_dsn) as conn:
        try:
            return migrate(conn, schema, settings)
        except MigrationError as exc:
            raise fail(str(exc)) from None


@db_app.command("migrate")
def db_migrate(schema: SchemaOption = None) -> None:
    """Apply the migrations not yet applied (idempotent; safe on every start)."""
    settings = get_settings()
    schema = schema or settings.pg_schema
    flavour, applied = run_migrations(settings, schema)
    done = ", ".join(applied) if applied else "nothing to do, up to date"
    console.print(f"schema {schema} ({flavour}): {done}")


@db_app.command("maintain")
def db_maintain(
    schema: SchemaOption = None,
    days_ahead: Annotated[int, typer.Option(min=0, help="Partitions made this far ahead.")] = 3,
) -> None:
    """Plain PostgreSQL: partitions ahead, drop expired ones, refresh roll-ups; both paths:
    the downtime roll-up's closed hours."""
    from sinks.partitions import maintain

    settings = get_settings()
    schema = schema or settings.pg_schema
    with _connect(settings, settings.pg_migrator_dsn) as conn:  # DROP and REFRESH: the owner's
        report = maintain(conn, schema, days_ahead=days_ahead)
    if not (report.created or report.dropped or report.refreshed):
        console.print(f"schema {schema}: TimescaleDB keeps itself (its jobs); nothing to do")
        return
    console.print(f"created partitions: {', '.join(report.created) or 'none'}")
    console.print(f"dropped partitions: {', '.join(report.dropped) or 'none'}")
    console.print(f"refreshed roll-ups: {', '.join(report.refreshed)}")


@sink_app.callback()
def sink(
    ctx: typer.Context,
    schema: SchemaOption = None,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="Run `db migrate` (as IIOT_PG_MIGRATOR_DSN) before starting.",
        ),
    ] = True,
) -> None:
    """Consume the pipeline's topics into the database until Ctrl-C; a status line every 5 s."""
    if ctx.invoked_subcommand is not None:
        return
    from sinks.consumer import Sink, tune_interpreter
    from sinks.flusher import SinkAborted

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    settings = get_settings()
    schema = schema or settings.pg_schema
    if migrate_first:
        run_migrations(settings, schema)
    sink_ = Sink(settings, schema)
    say(f"sink: {settings.kafka_bootstrap} → schema {schema}; Ctrl-C stops (twice: at once)")
    tune_interpreter()
    # A second signal: give up waiting for the database.
    with StopSignals(then_at_once=sink_.flusher.abort.set) as signals:
        try:
            sink_.run(until=signals.requested)
        except SinkAborted as exc:
            raise fail(f"{exc}; uncommitted messages are read again on the next start") from None


@sink_app.command("status")
def sink_status(schema: SchemaOption = None) -> None:
    """Lag per topic of the sink's consumer group, and rows per table."""
    from psycopg import sql

    from sinks.sink_status import group_lag
    from sinks.tables import ROUTES, TARGETS

    settings = get_settings()
    schema = schema or settings.pg_schema
    table = Table(title=f"sink group {settings.topic_prefix}{settings.sink_group}")
    for column in ("topic", "committed", "newest", "lag"):
        table.add_column(column, justify="right" if column != "topic" else "left")
    for t in group_lag(settings, tuple(ROUTES)):
        table.add_row(t.topic.value, f"{t.committed:,}", f"{t.newest:,}", f"{t.lag:,}")
    console.print(table)
    rows = Table(title=f"schema {schema}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    with _connect(settings) as conn:
        for target in TARGETS:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, target.table))
            (count,) = conn.execute(query).fetchone() or (0,)
            rows.add_row(target.table, f"{count:,}")
    console.print(rows)
