"""Every panel, variable and annotation query of the built dashboards, expanded with
Grafana's macros and variables, against the real PostgreSQL as iiot_reader (plain path) and
against the WASM TimescaleDB (time_bucket expansions) — after a short simulated run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dashboards.catalog import render_all
from dashboards.context import Build
from dashboards.macros import TimeRange, Variable, expand
from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration import dashboard_data
from tests.integration.dashboard_panels import naming_problems, run_all, shape_problems
from tests.integration.pglite_server import pglite_timescaledb
from tests.integration.sink_support import fresh_schemas

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data() -> dashboard_data.Dataset:
    return dashboard_data.make()


def _variables(data: dashboard_data.Dataset) -> dict[str, Variable]:
    birth = next(b for b in data.births if b.device_id == data.alarm_device)
    return {"enterprise": Variable(birth.enterprise.id), "plant": Variable(birth.plant_id),
            "line": Variable(birth.line_id), "device": Variable(birth.device_id)}  # fmt: skip


def _range(data: dashboard_data.Dataset) -> TimeRange:
    """The run with room before it, up to now: its rows arrived (`arrived_at`) just now."""
    return TimeRange(data.start - timedelta(minutes=30), datetime.now(UTC) + timedelta(minutes=1))


@pytest.fixture
def plain_schema(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    pg_schema: str,
    settings: Settings,
    data: dashboard_data.Dataset,
) -> Iterator[str]:
    """A schema migrated as `iiot db migrate` does, the run written, roll-ups refreshed."""
    make: Callable[[str], str]
    for make in fresh_schemas(migrator, pg_schema):
        schema = make("dash")
        assert migrate(migrator, schema, settings)[0] == "plain"
        dashboard_data.write(writer, schema, data)
        maintain(migrator, schema)  # plain PostgreSQL: roll-ups are as fresh as this
        yield schema


@pytest.mark.parametrize("interval_s", [60, 300])
def test_every_query_on_plain_postgresql_as_reader(
    reader: psycopg.Connection, plain_schema: str, data: dashboard_data.Dataset,
    interval_s: float,
) -> None:  # fmt: skip
    dashboards = render_all(Build(schema=plain_schema, timescaledb=False))
    results = run_all(reader, dashboards, _range(data), _variables(data), timescaledb=False,
                      interval_s=interval_s)  # fmt: skip
    assert len(results) >= 40
    kinds = {r.panel_type for r in results}
    assert kinds >= {"timeseries", "stat", "table", "bargauge", "geomap", "state-timeline",
                     "variable", "annotation"}  # fmt: skip
    problems = [p for r in results for p in shape_problems(r)]
    assert problems == []
    assert not any("time_bucket" in r.sql for r in results)
    assert naming_problems(results) == []  # every column named in the build's language


def test_variables_chain_to_the_chosen_device(
    reader: psycopg.Connection, plain_schema: str, data: dashboard_data.Dataset
) -> None:
    variables = _variables(data)
    dashboard = render_all(Build(schema=plain_schema))["iiot-line-device"]
    for variable in dashboard["templating"]["list"]:  # type: ignore[index]
        sql = expand(variable["query"], _range(data), interval_s=60, timescaledb=False,
                     variables=variables)  # fmt: skip
        options = [row[0] for row in reader.execute(sql).fetchall()]
        assert variables[variable["name"]].value in options


@pytest.mark.parametrize(
    "hostile", ["qd-haier' OR '1'='1", "x'; DROP VIEW v_oee; --", "x\\' OR true --"]
)
def test_variable_values_cannot_inject_sql(
    reader: psycopg.Connection, plain_schema: str, data: dashboard_data.Dataset, hostile: str
) -> None:
    """Grafana doubles quotes in a single-value variable, and panels quote it: a hostile
    value is a literal that matches nothing (the variable's regex drops it anyway)."""
    variables = dict.fromkeys(("enterprise", "plant", "line", "device"), Variable(hostile))
    dashboards = render_all(Build(schema=plain_schema))
    scoped = {uid: dashboards[uid] for uid in ("iiot-enterprise", "iiot-line-device")}
    results = run_all(reader, scoped, _range(data), variables, timescaledb=False)
    for result in (r for r in results if hostile.replace("'", "''") in r.sql):
        assert all(v in (0, None) for row in result.rows for v in row), result.where
    assert reader.execute(f"SELECT count(*) FROM {plain_schema}.v_oee").fetchone() != (0,)


@pytest.fixture(scope="module")
def timescaledb(data: dashboard_data.Dataset) -> Iterator[tuple[psycopg.Connection, str]]:
    schema = "iiot"
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate(conn, schema, Settings())[0] == "timescaledb"
        dashboard_data.write(conn, schema, data)
        for statement in (  # Grafana's read-only role, as deploy/local grants it
            "CREATE ROLE iiot_reader",
            f"GRANT USAGE ON SCHEMA {schema}, _timescaledb_internal TO iiot_reader",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema}, _timescaledb_internal TO iiot_reader",
            "SET ROLE iiot_reader",
        ):
            conn.execute(statement)  # type: ignore[arg-type]
        assert conn.execute("SELECT current_user").fetchone() == ("iiot_reader",)
        yield conn, schema


def test_every_query_on_timescaledb(
    timescaledb: tuple[psycopg.Connection, str], data: dashboard_data.Dataset
) -> None:
    conn, schema = timescaledb
    dashboards = render_all(Build(schema=schema, timescaledb=True))
    results = run_all(conn, dashboards, _range(data), _variables(data), timescaledb=True)
    problems = [p for r in results for p in shape_problems(r)]
    assert problems == []
    assert any("time_bucket('60.000s'," in r.sql for r in results)
