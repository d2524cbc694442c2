"""Grafana's expansion of PostgreSQL panel SQL, against the outputs Grafana's own tests pin
(pkg/tsdb/grafana-postgresql-datasource/macros_test.go) and its browser-side quoting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.macros import (
    MacroError,
    TimeRange,
    Variable,
    expand,
    format_interval,
    go_float,
    interpolate_globals,
    interpolate_macros,
    interpolate_variables,
    parse_interval,
    rfc3339nano,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
RANGE = TimeRange(FROM, FROM + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("sql", "plain", "timescaledb"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"', None),
        ("select $__timeEpoch(t)", 'select extract(epoch from t) as "time"', None),
        ("WHERE $__timeFilter(time_column)",
         "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'", None),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'", None),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'", None),
        ("SELECT $__timeGroup(time_column,'5m'), value",
         'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
         "SELECT time_bucket('300.000s',time_column) AS \"time\", value"),
        ("SELECT $__timeGroup(time_column,'5m') as time, value",
         "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
         "SELECT time_bucket('300.000s',time_column) as time, value"),
        ("$__timeGroupAlias(time_column , '5m')",
         'floor(extract(epoch from time_column)/300)*300 AS "time"',
         "time_bucket('300.000s',time_column) AS \"time\""),
        ("GROUP BY $__timeGroup(time_column , '12d')",
         "GROUP BY floor(extract(epoch from time_column)/1.0368e+06)*1.0368e+06",
         "GROUP BY time_bucket('1036800.000s',time_column)"),
        ("GROUP BY $__timeGroup(time_column , '20ms')",
         "GROUP BY floor(extract(epoch from time_column)/0.02)*0.02",
         "GROUP BY time_bucket('0.020s',time_column)"),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300",
         None),
        ("select $__unixEpochNanoFilter(time)",
         "select time >= 1523556000000000000 AND time <= 1523556300000000000", None),
        ("select $__unixEpochNanoFrom()", "select 1523556000000000000", None),
        ("select $__unixEpochNanoTo()", "select 1523556300000000000", None),
        ("SELECT $__unixEpochGroupAlias(time_column+time_adjustment,'5m')",
         'SELECT floor((time_column+time_adjustment)/300)*300 AS "time"', None),
    ],
)  # fmt: skip
def test_macros_as_grafana_expands_them(sql: str, plain: str, timescaledb: str | None) -> None:
    assert interpolate_macros(sql, RANGE, timescaledb=False) == plain
    assert interpolate_macros(sql, RANGE, timescaledb=True) == (timescaledb or plain)


def test_global_substitutions_and_go_formats() -> None:
    sql = "$__interval_ms $__interval $__unixEpochFrom() $__unixEpochTo()"
    assert interpolate_globals(sql, RANGE, 600) == "600000 10m 1523556000 1523556300"
    assert [format_interval(s) for s in (0.0001, 0.5, 59, 3600, 86400 * 400)] == [
        "1ms", "500ms", "59s", "1h", "1y",
    ]  # fmt: skip
    assert [go_float(x) for x in (300, 0.5, 604800, 1e6, 2592000, 1e-5)] == [
        "300", "0.5", "604800", "1e+06", "2.592e+06", "1e-05",
    ]  # fmt: skip
    half = datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC)
    assert rfc3339nano(half) == "1960-02-01T07:00:00.5Z"


def test_intervals_parse_like_gtime() -> None:
    assert parse_interval("1h30m") == 5400
    assert parse_interval("2w") == 14 * 86400
    assert parse_interval("1M", datetime(2026, 1, 31, tzinfo=UTC)) == 31 * 86400  # to Mar 3
    with pytest.raises(MacroError):
        parse_interval("5 minutes")
    with pytest.raises(MacroError, match="unknown macro"):
        interpolate_macros("SELECT $__nope(x)", RANGE, timescaledb=False)


def test_variables_are_quoted_as_the_browser_does() -> None:
    sql = "a = '$line' AND b IN ($devices) AND c = '${line}' AND d = '[[line]]' AND $__interval"
    out = interpolate_variables(sql, {"line": Variable("l1'x"), "devices": Variable(["d1", "d'2"])})
    assert (
        out == "a = 'l1''x' AND b IN ('d1','d''2') AND c = 'l1''x' AND d = 'l1''x' AND $__interval"
    )
    assert interpolate_variables("$x", {"x": Variable("v", multi=True)}) == "'v'"
    # the sqlstring format quotes a single value too (a repeated panel's one line)
    sqlstring = "IN (${x:sqlstring})"
    assert interpolate_variables(sqlstring, {"x": Variable("l'1")}) == "IN ('l''1')"
    assert interpolate_variables(sqlstring, {"x": Variable(["a", "b"])}) == "IN ('a','b')"


def test_expand_runs_the_three_steps_in_grafanas_order() -> None:
    sql = "SELECT $__timeGroupAlias(ts, $__interval) FROM t WHERE d = '$device'"
    out = expand(sql, RANGE, interval_s=300, timescaledb=True, variables={"device": Variable("p")})
    assert out == "SELECT time_bucket('300.000s',ts) AS \"time\" FROM t WHERE d = 'p'"
