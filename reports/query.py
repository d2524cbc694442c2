"""What a shift report shows, read from the views as `iiot_reader`.

OEE and its ratios are recomputed from the summed parts of the range's 1-minute windows
(dashboards/sqlparts.py); downtime by reason is the line dashboard's query over the plant's
lines, expanded as Grafana expands it, so the report and the dashboards agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from dashboards import line_device, sqlparts
from dashboards.macros import TimeRange, Variable, expand

# The parts v_oee sums (docs/kpi.md), keyed by their column names, as iiot.losses takes them.
PARTS = tuple(part.strip() for part in sqlparts.PARTS.split(","))
IN_SHIFT = "window_start >= %(start)s AND window_start < %(end)s"
TOTALS = (
    f"SELECT {sqlparts.RATIOS}, "
    + ", ".join(f"COALESCE(sum({p}), 0)::float8 AS {p}" for p in PARTS)
    + f" FROM v_oee WHERE level = 'plant' AND entity_id = %(plant)s AND {IN_SHIFT}"
)
LINES = (
    f"SELECT entity_id AS line, {sqlparts.RATIOS}, sum(planned_s)::float8 AS planned_s, "
    "sum(count_good)::float8 AS good, sum(count_total - count_good)::float8 AS scrap "
    "FROM v_oee WHERE level = 'line' AND entity_id IN "
    "(SELECT line_id FROM v_device WHERE plant_id = %(plant)s) "
    f"AND {IN_SHIFT} GROUP BY entity_id ORDER BY entity_id"
)
# The shift's alarm edges, and the episodes raised before it that were still open at its
# start (their raised edge): what the shift inherited.
ALARMS = (
    "SELECT a.ts, a.device_id, d.line_id, a.kind, a.status, a.value, a.threshold, a.message "
    "FROM v_alarm a JOIN v_device d USING (device_id) WHERE d.plant_id = %(plant)s "
    "AND (a.ts >= %(start)s AND a.ts < %(end)s OR a.status = 'raised' AND a.ts < %(start)s "
    "AND NOT EXISTS (SELECT 1 FROM v_alarm c WHERE c.device_id = a.device_id "
    "AND c.kind = a.kind AND c.raised_at = a.raised_at AND c.status = 'cleared' "
    "AND c.ts <= %(start)s)) ORDER BY a.ts, a.device_id, a.kind, a.status"
)
# The plant's lines: the dashboard's scopes are lines or devices, on every source it reads.
PLANT_SCOPE = "line_id IN (SELECT line_id FROM v_device WHERE plant_id = '$plant')"


@dataclass(frozen=True)
class Ratios:
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None


@dataclass(frozen=True)
class LineRow:
    line: str
    ratios: Ratios
    planned_s: float
    good: float
    scrap: float


@dataclass(frozen=True)
class Reason:
    reason: str
    lost_s: float
    episodes: int


@dataclass(frozen=True)
class AlarmRow:
    ts: datetime
    device_id: str
    line_id: str
    kind: str
    status: str
    value: float | None
    threshold: float | None
    message: str


@dataclass(frozen=True)
class ShiftData:
    plant_id: str
    enterprise_name: str
    start: datetime
    end: datetime
    totals: Ratios
    parts: dict[str, float]  # v_oee's parts summed over the plant's windows
    lines: list[LineRow]
    reasons: list[Reason]
    alarms: list[AlarmRow]


def connect(dsn: str, schema: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, connect_timeout=5, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    return conn


def plants(conn: psycopg.Connection) -> dict[str, str]:
    """Every plant with devices, and its enterprise's name."""
    rows = conn.execute(
        "SELECT DISTINCT plant_id, enterprise_name FROM v_device ORDER BY plant_id"
    ).fetchall()
    return {plant: name for plant, name in rows}


def _ratios(row: tuple[object, ...]) -> Ratios:
    """A, P, Q, OEE from the first four columns (null where undefined)."""
    a, p, q, oee = (None if v is None else float(v) for v in row[:4])  # type: ignore[arg-type]
    return Ratios(a, p, q, oee)


def read(
    conn: psycopg.Connection, plant_id: str, enterprise_name: str, start: datetime, end: datetime
) -> ShiftData:
    """The shift [start, end) of a plant known to exist (`plants`)."""
    args = {"plant": plant_id, "start": start, "end": end}
    totals = conn.execute(TOTALS, args).fetchone()
    assert totals is not None  # an aggregate always has a row
    parts = dict(zip(PARTS, map(float, totals[4:]), strict=True))
    lines = [
        LineRow(
            str(r[0]),
            _ratios(r[1:]),
            float(r[5] or 0),
            float(r[6] or 0),
            float(r[7] or 0),
        )
        for r in conn.execute(LINES, args).fetchall()
    ]
    reasons_sql = expand(
        line_device.REASONS.format(scope=PLANT_SCOPE),
        TimeRange(start, end),
        interval_s=60,
        timescaledb=False,
        variables={"plant": Variable(plant_id)},
    )
    reasons = [
        Reason(str(r[0]), float(r[1]), int(r[2])) for r in conn.execute(reasons_sql).fetchall()
    ]
    alarms = [
        AlarmRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
        for r in conn.execute(ALARMS, args).fetchall()
    ]
    return ShiftData(
        plant_id,
        enterprise_name,
        start,
        end,
        _ratios(totals),
        parts,
        lines,
        reasons,
        alarms,
    )
