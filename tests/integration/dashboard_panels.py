"""Every query of the built dashboards, expanded as Grafana expands it and run; its shape
checked against what its panel plots."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from dashboards.catalog import Json
from dashboards.check import queries
from dashboards.macros import TimeRange, Variable, expand

NUMBER = (int, float, Decimal)


@dataclass
class Result:
    where: str
    panel_type: str
    format: str
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    named: set[str] | None = None  # columns the panel names (display-name overrides)


def run_all(
    conn: psycopg.Connection,
    dashboards: dict[str, Json],
    time_range: TimeRange,
    variables: dict[str, Variable],
    *,
    timescaledb: bool,
    interval_s: float = 60,
) -> list[Result]:
    results = []
    for uid, dashboard in dashboards.items():
        types = {p.get("title"): p["type"] for p in dashboard["panels"]}  # type: ignore[union-attr]
        named = {f"panel {p.get('id')} {p.get('title')!r}": _named(p)
                 for p in dashboard["panels"]}  # type: ignore[union-attr]  # fmt: skip
        for where, target in queries(dashboard):
            sql = expand(str(target["rawSql"]), time_range, interval_s=interval_s,
                         timescaledb=timescaledb, variables=variables)  # fmt: skip
            try:
                cursor = conn.execute(sql)  # type: ignore[arg-type]
            except psycopg.Error as exc:
                raise AssertionError(f"{uid} {where} failed: {exc}\n{sql}") from None
            columns = [c.name for c in cursor.description or []]
            title = where.split(" ", 2)[-1].strip("'\"") if where.startswith("panel") else ""
            kind = types.get(title, where.split(" ")[0])
            results.append(Result(f"{uid} {where}", kind, str(target.get("format", "table")),
                                  sql, columns, cursor.fetchall(), named.get(where)))  # fmt: skip
    return results


def _named(panel: Json) -> set[str]:
    overrides = panel.get("fieldConfig", {}).get("overrides", [])  # type: ignore[union-attr]
    return {o["matcher"]["options"] for o in overrides
            if any(p["id"] == "displayName" for p in o["properties"])}  # fmt: skip


def naming_problems(results: list[Result]) -> list[str]:
    """Columns an operator would read by their SQL name: every column a panel shows is named
    in the build's language, except those Grafana names from the data itself — the time of a
    time series, a (time, metric, value) series named by its metric, a bar named by its row —
    and every name is of a column some query of the panel returns."""
    problems, returned, named = [], defaultdict(set), {}
    for r in results:
        if r.named is None or r.panel_type == "bargauge":  # variables, annotations; bars by row
            continue
        returned[r.where] |= set(r.columns)
        named[r.where] = r.named
        shown = set(r.columns)
        if r.format == "time_series":
            shown -= {"time", "metric"}
            if "metric" in r.columns and len(r.columns) == 3:
                shown = set()  # Grafana names the series by the metric's values
        if shown - r.named:
            problems.append(f"{r.where}: unnamed {sorted(shown - r.named)}")
    for where, names in named.items():
        if names - returned[where]:
            problems.append(f"{where}: names {sorted(names - returned[where])}, not returned")
    return problems


def shape_problems(result: Result) -> list[str]:
    """What Grafana would refuse or plot wrongly; empty when the shape is right."""
    r, problems = result, []
    if not r.rows:
        return [f"{r.where}: no rows"]
    if r.format == "time_series":
        if "time" not in r.columns:
            return [f"{r.where}: no time column ({r.columns})"]
        at = r.columns.index("time")
        times = [row[at] for row in r.rows]
        if not all(isinstance(t, (datetime, *NUMBER)) for t in times):
            problems.append(f"{r.where}: time column holds {type(times[0]).__name__}")
        elif times != sorted(times):
            problems.append(f"{r.where}: rows are not sorted by time")
        for i, name in enumerate(r.columns):
            values = {type(row[i]) for row in r.rows if row[i] is not None}
            if i != at and not values <= {str} and not all(issubclass(v, NUMBER) for v in values):
                problems.append(f"{r.where}: column {name} is {values}, not numbers")
        if not any(isinstance(v, NUMBER) for row in r.rows for i, v in enumerate(row) if i != at):
            problems.append(f"{r.where}: no number to plot")
    elif r.panel_type in ("stat", "bargauge"):
        if not any(isinstance(v, NUMBER) for v in r.rows[0]):
            problems.append(f"{r.where}: first row {r.rows[0]} has no number")
    elif r.panel_type == "geomap":
        lat, lon = r.columns.index("latitude"), r.columns.index("longitude")
        if not all(isinstance(row[lat], NUMBER) and isinstance(row[lon], NUMBER) for row in r.rows):
            problems.append(f"{r.where}: coordinates are not numbers")
    elif r.panel_type == "state-timeline" and (
        r.columns[:2] != ["time", "state"] or not isinstance(r.rows[0][1], str)
    ):
        problems.append(f"{r.where}: expected time, state; got {r.columns}")
    return problems
