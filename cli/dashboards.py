"""`iiot dashboards build | check | push`. Heavy imports (the SDK, grafana-client) happen
inside the commands, so `iiot --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import fail, say
from iiot.settings import get_settings

app = typer.Typer(help="Grafana dashboards as code: build provisioning, check it, push it.")
console = Console()
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Build directory.")]
DEFAULT_OUT = Path("build/grafana")


@app.command("build")
def build(
    out: OutOption = DEFAULT_OUT,
    language: Annotated[str, typer.Option(help="Titles: zh, en or both.")] = "both",
    timescaledb: Annotated[
        bool | None,
        typer.Option(help="Datasource TimescaleDB flag; default IIOT_GRAFANA_TIMESCALEDB."),
    ] = None,
    schema: Annotated[str | None, typer.Option(help="Schema of the views.")] = None,
    db_host: Annotated[
        str | None, typer.Option(help="host:port Grafana uses for PostgreSQL; default: DSN's.")
    ] = None,
    dashboards_path: Annotated[
        str, typer.Option(help="Where Grafana sees the dashboards/ directory.")
    ] = "/var/lib/grafana/dashboards",
) -> None:
    """Write the datasource, dashboard providers and dashboards into a directory."""
    from dashboards.context import Build
    from dashboards.provisioning import Database, write
    from dashboards.text import LANGUAGES

    settings = get_settings()
    if language not in LANGUAGES:
        raise fail(f"--language must be one of {', '.join(LANGUAGES)}, not {language!r}", 2)
    spec = Build(
        language=language,
        schema=schema or settings.pg_schema,
        timescaledb=settings.grafana_timescaledb if timescaledb is None else timescaledb,
        weights=settings.digitization_weights,
    )
    try:
        db = Database.from_dsn(settings.pg_reader_dsn, db_host, settings.grafana_pg_sslmode)
        manifest = write(out, spec, db, dashboards_path)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    flag = "on" if spec.timescaledb else "off"
    console.print(
        f"wrote {len(manifest['dashboards'])} dashboards, {len(manifest['folders'])} folders "  # type: ignore[arg-type]
        f"and the datasource (timescaledb {flag}, schema {spec.schema}) to {out}"
    )


@app.command("check")
def check(out: OutOption = DEFAULT_OUT) -> None:
    """Validate a build: uids, datasources, variables, macros; exit 1 on any problem."""
    from dashboards.check import check as check_build

    problems = check_build(out)
    for problem in problems:
        say(problem)
    if problems:
        raise fail(f"{len(problems)} problem(s) in {out}")
    console.print(f"{out}: ok")


@app.command("push")
def push(
    out: OutOption = DEFAULT_OUT,
    url: Annotated[str | None, typer.Option(help="Grafana URL; default IIOT_GRAFANA_URL.")] = None,
) -> None:
    """Push a build to a running Grafana (health check first; overwrite by uid)."""
    from dashboards.api import PushError, connect
    from dashboards.api import push as push_build
    from dashboards.check import check as check_build

    settings = get_settings()
    problems = check_build(out)
    if problems:
        raise fail(f"{out} does not pass `iiot dashboards check`: {problems[0]}")
    try:
        report = push_build(connect(url or settings.grafana_url, settings.grafana_token), out)
    except PushError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"Grafana {report.version}: {len(report.folders)} folders, datasource "
        f"{', '.join(report.datasources)}, dashboards {', '.join(report.dashboards)}"
    )
