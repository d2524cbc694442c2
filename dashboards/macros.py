"""Grafana's expansion of a PostgreSQL panel's SQL, reimplemented to test the dashboards.

Grafana expands a query in three steps, and so does `expand`:
1. the browser replaces dashboard variables (`$line`, `${line}`, `[[line]]`); a single-value
   variable has its `'` doubled, a multi-value one is quoted and comma-joined
   (grafana-sql SqlDatasource.interpolateVariable); `${line:sqlstring}` is quoted whether
   single or multi (Grafana's `sqlstring` format; other formats are not emulated);
2. the backend's global substitutions: `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`,
   `$__unixEpochTo()` (sqleng Interpolate);
3. the PostgreSQL macro engine: `$__name(args)` (grafana-postgresql-datasource macros.go),
   where `$__timeGroup` is `time_bucket` with the datasource's `timescaledb` flag.
Formats follow Go's: RFC 3339 with trimmed nanoseconds, `%v` and `%.3f` of float seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
GO_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
DATE_UNIT = re.compile(r"^(\d+)([dwMy])$")


class MacroError(ValueError):
    """Grafana would answer this query with an error."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Variable:
    value: str | list[str]
    multi: bool = False
    include_all: bool = False


def rfc3339nano(ts: datetime) -> str:
    """Go's time.RFC3339Nano of a UTC time: fractional seconds without trailing zeros."""
    ts = ts.astimezone(UTC)
    fraction = f".{ts.microsecond:06d}".rstrip("0") if ts.microsecond else ""
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def go_float(value: float) -> str:
    """Go's `%v` of a float64: shortest digits, exponent form from 1e+06 up (and below 1e-4)."""
    if value == 0:
        return "0"
    number = Decimal(repr(float(value))).normalize()
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    point = len(digits) + exponent - 1
    if point < -4 or point >= 6:
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if digits[1:] else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    return format(number, "f")


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = GO_DURATION_PART.findall(body)
    if (
        not body
        or "".join(n + u for n, u in parts) != body
        or any(n in ("", ".") for n, _ in parts)
    ):
        raise MacroError(f"error parsing interval {text}")
    seconds = sum(float(n) * GO_UNITS[u] for n, u in parts)
    return -seconds if text.startswith("-") else seconds


def parse_interval(text: str, now: datetime | None = None) -> float:
    """gtime.ParseInterval, in seconds: d, w, M, y are calendar steps from now (UTC)."""
    match = DATE_UNIT.match(text)
    if not match:
        return parse_go_duration(text)
    n, unit = int(match[1]), match[2]
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if unit in "dw":
        return timedelta(days=n * (7 if unit == "w" else 1)).total_seconds()
    months = now.month - 1 + (n if unit == "M" else 12 * n)
    first = now.replace(year=now.year + months // 12, month=months % 12 + 1, day=1)
    return (first + timedelta(days=now.day - 1) - now).total_seconds()  # Go normalises days


def format_interval(seconds: float) -> str:
    """gtime.FormatInterval: the largest whole unit, as Grafana prints `$__interval`."""
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms" if seconds >= 0.001 else "1ms"


def interpolate_variables(sql: str, variables: dict[str, Variable]) -> str:
    """Step 1, in the browser: dashboard variables; unknown names are left as they are."""

    def quote(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[4]
        variable = variables.get(name)
        if variable is None:
            return match[0]
        if (match[3] or match[6]) == "sqlstring":  # Grafana's format: every value quoted
            values = variable.value if isinstance(variable.value, list) else [variable.value]
            return ",".join(quote(v) for v in values)
        if isinstance(variable.value, list):
            return ",".join(quote(v) for v in variable.value)
        if variable.multi or variable.include_all:
            return quote(variable.value)
        return variable.value.replace("'", "''")

    return VARIABLE.sub(replace, sql)


def interpolate_globals(sql: str, time_range: TimeRange, interval_s: float) -> str:
    """Step 2, sqleng.Interpolate (`$__interval_ms` first: it starts like `$__interval`)."""
    sql = sql.replace("$__interval_ms", str(round(interval_s * 1000)))
    sql = sql.replace("$__interval", format_interval(interval_s))
    sql = sql.replace("$__unixEpochFrom()", str(int(time_range.start.timestamp())))
    return sql.replace("$__unixEpochTo()", str(int(time_range.end.timestamp())))


def _time_group(args: list[str], timescaledb: bool, name: str) -> str:
    if len(args) < 2:
        raise MacroError(f"macro {name} needs time column and interval and optional fill value")
    seconds = parse_interval(args[1].strip("'"))
    if timescaledb:
        return f"time_bucket('{seconds:.3f}s',{args[0]})"
    return f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"


def _macro(name: str, args: list[str], time_range: TimeRange, timescaledb: bool) -> str:
    start, end = time_range.start, time_range.end
    # Go splits "" into [""], so Grafana's "missing time column" check never fires: an empty
    # column is expanded as it is, and PostgreSQL reports the broken SQL.
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{rfc3339nano(start)}' AND '{rfc3339nano(end)}'"
    if name == "__timeFrom":
        return f"'{rfc3339nano(start)}'"
    if name == "__timeTo":
        return f"'{rfc3339nano(end)}'"
    if name == "__timeGroup":
        return _time_group(args, timescaledb, name)
    if name == "__timeGroupAlias":
        return _time_group(args, timescaledb, "__timeGroup") + ' AS "time"'
    if name == "__unixEpochFilter":
        return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
    nanos = (_nanos(start), _nanos(end))
    if name == "__unixEpochNanoFilter":
        return f"{args[0]} >= {nanos[0]} AND {args[0]} <= {nanos[1]}"
    if name in ("__unixEpochNanoFrom", "__unixEpochNanoTo"):
        return str(nanos[0] if name.endswith("From") else nanos[1])
    if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        s = go_float(parse_interval(args[1].strip("'")))
        alias = ' AS "time"' if name.endswith("Alias") else ""
        return f"floor(({args[0]})/{s})*{s}{alias}"
    raise MacroError(f'unknown macro "{name}"')


def _nanos(ts: datetime) -> int:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    delta = ts.astimezone(UTC) - epoch
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def interpolate_macros(sql: str, time_range: TimeRange, *, timescaledb: bool) -> str:
    """Step 3, the PostgreSQL macro engine. A `$__timeGroup(…)` directly followed by a comma
    gets `AS "time"` (Grafana's pre-5.3 compatibility), judged at its first occurrence."""
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name == "__timeGroup":
            at = original.find(match[0])
            if at >= 0 and original[at + len(match[0]) : at + len(match[0]) + 1] == ",":
                name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match[2].split(",")]
        return _macro(name, args, time_range, timescaledb)

    return MACRO.sub(replace, sql)


def expand(
    sql: str,
    time_range: TimeRange,
    *,
    interval_s: float,
    timescaledb: bool,
    variables: dict[str, Variable] | None = None,
) -> str:
    """The SQL Grafana sends to PostgreSQL for this panel query."""
    sql = interpolate_variables(sql, variables or {})
    sql = interpolate_globals(sql, time_range, interval_s)
    return interpolate_macros(sql, time_range, timescaledb=timescaledb)
