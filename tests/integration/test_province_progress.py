"""The province dashboard's progress against the 2017 baseline (55.2) on hand-written
digitization hours, as iiot_reader on plain PostgreSQL: the index recomputed from the
enterprises' added counts, the newest complete hour against 55.2, the index over time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards.catalog import render_all
from dashboards.context import Build
from dashboards.macros import TimeRange, expand
from iiot.settings import Settings
from sinks.migrate import migrate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
RANGE = TimeRange(T0, T0 + timedelta(hours=3))
COLUMNS = (
    "devices_registered, devices_reporting, samples_received, samples_expected, "
    "key_process_devices, key_process_nc_reporting, devices_with_oee, cloud"
)
# (hour, enterprise, the counts of COLUMNS). 08:00, added: connectivity 6/8, completeness
# 3240/4320, key-process NC 3/5, OEE coverage 6/8, cloud in 1 of 2 enterprise-hours →
# 100 × (0.25·0.75 + 0.20·0.75 + 0.25·0.6 + 0.15·0.75 + 0.15·0.5) = 67.5. 09:00, one more
# device of qd-a reports: 7/8, 3780/4320, 4/5, 7/8, 0.5 → 80.0. 10:00 is still filling.
HOURS = [
    (0, "qd-a", (4, 2, 1080, 2160.0, 3, 1, 2, True)),
    (0, "jn-b", (4, 4, 2160, 2160.0, 2, 2, 4, False)),
    (1, "qd-a", (4, 3, 1620, 2160.0, 3, 2, 3, True)),
    (1, "jn-b", (4, 4, 2160, 2160.0, 2, 2, 4, False)),
    (2, "qd-a", (4, 1, 100, 2160.0, 3, 0, 1, True)),
    (2, "jn-b", (4, 1, 100, 2160.0, 2, 0, 1, False)),
]


def insert_hours(conn: psycopg.Connection) -> None:
    for enterprise in ("qd-a", "jn-b"):
        conn.execute(
            "INSERT INTO enterprise VALUES (%s, %s, 'qingdao', 'machinery', true, %s)",
            (enterprise, enterprise.upper(), T0),
        )
    for hour, enterprise, counts in HOURS:
        start = T0 + timedelta(hours=hour)
        conn.execute("SELECT ensure_partition('digitization', %s)", (start,))
        conn.execute(
            f"INSERT INTO digitization (enterprise_id, window_start, window_end, revision, "
            f"{COLUMNS}, index) VALUES (%s, %s, %s, 0, {', '.join(['%s'] * 8)}, 0)",
            (enterprise, start, start + timedelta(hours=1), *counts),
        )


def panel_rows(conn: psycopg.Connection, schema: str, title: str) -> list[list[tuple[Any, ...]]]:
    """Each query's rows of the province panel titled `title`, hourly intervals."""
    dashboard: Any = render_all(Build(language="en", schema=schema))["iiot-province"]
    (panel,) = [p for p in dashboard["panels"] if p["title"] == title]
    return [
        conn.execute(
            expand(target["rawSql"], RANGE, interval_s=3_600, timescaledb=False, variables={})
        ).fetchall()
        for target in panel["targets"]
    ]


def test_the_newest_complete_hour_against_the_baseline_and_the_index_over_time(
    migrator: psycopg.Connection,
    reader: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("progress")
    assert migrate(migrator, schema, settings)[0] == "plain"
    migrator.execute(f"SET search_path TO {schema}")
    insert_hours(migrator)
    reader.execute(f"SET search_path TO {schema}")
    [now] = panel_rows(reader, schema, "Digitization index vs the 2017 baseline")
    assert now == [(pytest.approx(80.0), pytest.approx(80.0 - 55.2))]  # 09:00, not 10:00
    over_time, baseline = panel_rows(
        reader, schema, "Province digitization index vs 2017 baseline 55.2"
    )
    hour = T0.timestamp()  # $__timeGroupAlias gives epoch seconds
    assert [(float(t), i) for t, i in over_time[:2]] == [
        (hour, pytest.approx(67.5)),
        (hour + 3_600, pytest.approx(80.0)),
    ]
    assert len(over_time) == 3
    assert [(t, float(v)) for t, v in baseline] == [(RANGE.start, 55.2), (RANGE.end, 55.2)]
