"""Every panel, variable and annotation query of the built dashboards, expanded with
Grafana's macros and variables, against the real PostgreSQL as iiot_reader (plain path) and
against the WASM TimescaleDB (time_bucket expansions) — after a short simulated run."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dashboards.catalog import Json, render_all
from dashboards.context import Build
from dashboards.macros import TimeRange, Variable, expand
from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration import dashboard_data
from tests.integration.dashboard_panels import naming_problems, run_all, shape_problems
from tests.integration.pglite_server import become_reader, pglite_timescaledb
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
        become_reader(conn, schema)  # Grafana's read-only role
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


ROLLED_UP = (  # the time series that read v_oee, v_oee_hourly or v_oee_daily by the range
    ("iiot-province", "Province OEE with A, P, Q"),
    ("iiot-enterprise", "OEE with availability, performance, quality"),
    ("iiot-enterprise", "Losses (s): down, setup, idle, planned stop, unknown"),
    ("iiot-line-device", "Line OEE per window"),
    ("iiot-line-device", "Device OEE per window"),
    ("iiot-line-device", "Parts and scrap"),
)
# The line and device panels, not time series, that read the OEE roll-ups by the range.
ROLLED_UP_TOTALS = (
    ("iiot-line-device", "State seconds per device of the line"),
    ("iiot-line-device", "Line OEE and TEEP"),
    ("iiot-line-device", "Device OEE and TEEP"),
    ("iiot-province", "Reporting devices"),
    ("iiot-province", "Province OEE (time-weighted)"),
    ("iiot-province", "Best enterprises by OEE"),
    ("iiot-province", "Worst enterprises by OEE"),
    ("iiot-province", "Shandong cities"),
    ("iiot-enterprise", "OEE (time-weighted)"),
    ("iiot-enterprise", "Lines ranked by OEE"),
    ("iiot-enterprise", "Loss waterfall: the six big losses"),
)
METRICS = ("iiot-line-device", "Process metrics")  # samples, metric_hourly or metric_daily


def _rolled_up(
    dashboards: dict[str, Json], panels: tuple[tuple[str, str], ...] = ROLLED_UP
) -> Iterator[tuple[str, str]]:
    for uid, title in panels:
        found = dashboards[uid]["panels"]
        (panel,) = [p for p in found if p["title"] == title]  # type: ignore[union-attr]
        yield f"{uid} {title}", str(panel["targets"][0]["rawSql"])


def _scanned(reader: psycopg.Connection, sql: str) -> set[str]:
    """The tables and roll-ups the plan reads, partitions named by their parent."""
    plan = "\n".join(r[0] for r in reader.execute(f"EXPLAIN {sql}").fetchall())  # type: ignore[arg-type]
    # (a CTE's or subquery's scan reads what its own plan, listed too, reads; a bitmap index
    # scan names the index, its heap scan the table)
    found = re.findall(r"(?<!CTE Scan)(?<!Subquery Scan)(?<!Bitmap Index Scan) on (\w+)", plan)
    scanned = {re.sub(r"_p?\d.*$", "", name) for name in found}
    # the derived tables of sqlparts.by_range (subquery scans), the registry behind a line's
    # devices, the metrics unpacked from each sample, the cities' reference table
    return scanned - {"o", "m", "device", "enterprise", "jsonb_each_text", "city"}


# Grafana's interval for ~1,000 points, rounded as it rounds (rangeutil.roundInterval), not
# under the panels' 1m minimum: 6 hours 1m, 30 days 30m, 90 days 2h.
INTERVAL_S = {0.25: 60.0, 30: 1800.0, 90: 7200.0}


def _ending_now(days: float) -> tuple[TimeRange, float]:
    end = datetime.now(UTC) + timedelta(minutes=1)
    return TimeRange(end - timedelta(days=days), end), INTERVAL_S[days]


@pytest.mark.parametrize(
    ("days", "source", "step"),
    [(0.25, "oee", timedelta(minutes=1)), (30, "oee_hourly", timedelta(hours=1)),
     (90, "oee_daily", timedelta(days=1))],
)  # fmt: skip
def test_long_ranges_read_the_rollups(
    reader: psycopg.Connection, plain_schema: str, data: dashboard_data.Dataset,
    days: float, source: str, step: timedelta,
) -> None:  # fmt: skip
    """6 hours read the 1-minute windows, 30 days the hourly roll-up, 90 days the daily one:
    the plan scans only that relation, and the rows fall on its grain."""
    dashboards = render_all(Build(language="en", schema=plain_schema))
    time_range, interval_s = _ending_now(days)
    metric_source = {"oee": "telemetry"}.get(source, source.replace("oee", "metric"))
    for where, raw in _rolled_up(dashboards, (*ROLLED_UP, METRICS)):
        sql = expand(raw, time_range, interval_s=interval_s, timescaledb=False,
                     variables=_variables(data))  # fmt: skip
        expected = metric_source if where.endswith(METRICS[1]) else source
        assert _scanned(reader, sql) == {expected}, where
        times = [row[0] for row in reader.execute(sql).fetchall()]  # type: ignore[arg-type]
        assert times, where
        # epoch seconds on plain PostgreSQL ($__timeGroup's floor)
        assert all(t % int(step.total_seconds()) == 0 for t in times), (where, times[:3])
    for where, raw in _rolled_up(dashboards, ROLLED_UP_TOTALS):
        sql = expand(raw, time_range, interval_s=interval_s, timescaledb=False,
                     variables=_variables(data))  # fmt: skip
        assert _scanned(reader, sql) == {source}, where


def test_grains_agree(
    reader: psycopg.Connection, plain_schema: str, data: dashboard_data.Dataset
) -> None:
    """The run read as 1-minute windows and samples (a 2-day range) and as hours (an hour
    longer): every province, enterprise, line and device panel that reads by the range gives
    the same numbers."""
    dashboards = render_all(Build(language="en", schema=plain_schema))
    end = datetime.now(UTC) + timedelta(minutes=1)
    raw, hourly = (TimeRange(end - timedelta(days=2, hours=h), end) for h in (0, 1))
    for where, sql in _rolled_up(dashboards, (*ROLLED_UP, *ROLLED_UP_TOTALS, METRICS)):

        def rows(time_range: TimeRange, sql: str = sql) -> list[tuple[object, ...]]:
            # one bucket of 30 days for the time series: minutes and hours fall in the same
            expanded = expand(sql, time_range, interval_s=30 * 86400, timescaledb=False,
                              variables=_variables(data))  # fmt: skip
            return reader.execute(expanded).fetchall()  # type: ignore[arg-type]

        by_minute, by_hour = rows(raw), rows(hourly)
        # a time series' first column is its bucket: the figures are after it
        first = 1 if any(where.endswith(title) for _, title in (*ROLLED_UP, METRICS)) else 0
        assert by_minute and any(v for row in by_minute for v in row[first:]), where
        assert any(row[-1] is not None for row in by_minute), where  # e.g. the cities' OEE
        assert len(by_hour) == len(by_minute), where
        for hour_row, minute_row in zip(by_hour, by_minute, strict=True):  # sums' rounding aside
            expected = [
                pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for v in minute_row
            ]
            assert list(hour_row) == expected, where


def test_long_ranges_read_the_rollups_on_timescaledb(
    timescaledb: tuple[psycopg.Connection, str], data: dashboard_data.Dataset
) -> None:
    """On TimescaleDB the roll-ups are real-time continuous aggregates: 30 days give hours."""
    conn, schema = timescaledb
    dashboards = render_all(Build(language="en", schema=schema, timescaledb=True))
    time_range, interval_s = _ending_now(30)
    for where, raw in _rolled_up(dashboards):
        sql = expand(raw, time_range, interval_s=interval_s, timescaledb=True,
                     variables=_variables(data))  # fmt: skip
        times = [row[0] for row in conn.execute(sql).fetchall()]  # type: ignore[arg-type]
        assert times and all(t.minute == t.second == 0 for t in times), (where, times[:3])
