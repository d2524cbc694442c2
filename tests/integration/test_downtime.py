"""Downtime by reason, MTBF, MTTR and TEEP (docs/kpi.md, "Downtime, MTBF, MTTR and TEEP") on
hand-written telemetry: the views' seconds and episodes and the line dashboard's panels'
numbers equal the ones worked out by hand below. The plain path here; the TimescaleDB path
runs `check_hand_case` in tests/integration/test_db_timescaledb.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dashboards import line_device as ld
from dashboards.context import Build
from dashboards.macros import TimeRange, Variable, expand
from iiot.settings import Settings
from sinks.migrate import migrate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
A, B = "qd-t-p1-l1-m01", "qd-t-p1-l1-m02"  # intervals 5 s (max_gap 15 s) and 10 s (30 s)
RANGE = TimeRange(T0, T0 + timedelta(minutes=2))  # 08:00:00–08:02:00
LINE = "qd-t-p1-l1"  # a line of its own: TimescaleDB's test schema holds other rows
VARIABLES = {"line": Variable(LINE), "device": Variable(A)}


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


# (device, seconds from 08:00, state, reason)
SAMPLES = [
    (A, 0, "running", None),  # 10 s running
    (A, 10, "down", "breakdown"),  # down episode 1 (breakdown) 10 s …
    (A, 20, "down", "breakdown"),  # … the same episode, 10 s more
    (A, 30, "down", "tool_change"),  # down episode 2: another reason, 10 s
    (A, 40, "running", "tool_change"),  # running (its reason ignored): 15 s, next 20 s later
    (A, 60, "idle", None),  # 'unspecified', 5 s; a new episode after the gap
    (A, 65, "down", "breakdown"),  # down episode 3: 15 s
    (A, 80, "running", None),  # 15 s (next 30 s later > max_gap)
    (A, 110, "running", None),  # holds 15 s to 08:02:05; 10 s inside the range
    (B, -10, "down", "breakdown"),  # in progress at 08:00: 10 s inside, counts as 1 episode
    (B, 10, "down", "breakdown"),  # the same episode: 20 s
    (B, 30, "setup", "changeover"),  # 30 s
    (B, 60, "running", None),  # 30 s (max_gap; the next comes 70 s later)
    (B, 130, "running", None),  # after the range
]
# v_state_interval of A: (seconds, episode_start) per sample
A_INTERVALS = [(10, True), (10, True), (10, False), (10, True), (15, True), (5, True),
               (15, True), (15, True), (15, True)]  # fmt: skip
# Down episodes: A 3 (45 s), B 1 (30 s); running: A 50 s, B 30 s.
MTBF_MTTR = {"line": (80 / 4, 75 / 4, 4), "device": (50 / 3, 45 / 3, 3)}
# Pareto of the line: reason → (down_s, idle_s, setup_s), largest total first
PARETO = [("breakdown", 65, None, None), ("changeover", None, None, 30),
          ("tool_change", 10, None, None), ("unspecified", None, 5, None)]  # fmt: skip
# reason → lost_s, episodes, mean_s
REASONS = [("breakdown", 65, 3, 65 / 3), ("changeover", 30, 1, 30), ("tool_change", 10, 1, 10),
           ("unspecified", 5, 1, 5)]  # fmt: skip
# Two line windows: planned 45 + 60, planned stop 15, unknown 60 → calendar 180 s; ideal run
# 24 + 30, 7 good of 8. OEE = 54 × 7/8 / 105 = 0.45, utilisation 105/180, TEEP 47.25/180.
OEE_WINDOWS = [(0, 45, 15, 0, 24, 3, 2), (1, 60, 0, 60, 30, 5, 5)]
TEEP = (0.45, 105 / 180, 47.25 / 180)


def insert_hand_case(conn: psycopg.Connection, *, plain: bool) -> None:
    """The rows above, into the schema on the search path (plain: partitions first)."""
    if plain:
        conn.execute("SELECT ensure_partition('telemetry', %s)", (T0,))
        conn.execute("SELECT ensure_partition('oee', %s)", (T0,))
    conn.execute("INSERT INTO enterprise VALUES ('qd-t', 'T', 'qingdao', 'machinery', true, %s)",
                 (T0,))  # fmt: skip
    for device, interval in ((A, 5), (B, 10)):
        conn.execute(
            "INSERT INTO device VALUES (%s, 'qd-t', 'qd-t-p1', %s, 'press', true, true, %s, 10, "
            "%s)",
            (device, LINE, interval, T0),
        )
    for seq, (device, at, state, reason) in enumerate(SAMPLES):
        conn.execute(
            "INSERT INTO telemetry (device_id, seq, ts, state, count_total, count_good, reason) "
            "VALUES (%s, %s, %s, %s, 0, 0, %s)", (device, seq, _at(at), state, reason),
        )  # fmt: skip
    for minute, planned, stop, unknown, ideal, total, good in OEE_WINDOWS:
        conn.execute(
            "INSERT INTO oee VALUES ('line', %s, %s, %s, 0, 2, 0, 0, 0, 0, 0, 0, %s, %s, %s, "
            "%s, %s, %s, null, null, null, null, false)",
            (
                LINE,
                _at(60 * minute),
                _at(60 * minute + 60),
                stop,
                unknown,
                planned,
                ideal,
                total,
                good,
            ),
        )


def _panel(conn: psycopg.Connection, query: str, schema: str) -> list[tuple[object, ...]]:
    sql = expand(Build(schema=schema).sql(query), RANGE, interval_s=60, timescaledb=False,
                 variables=VARIABLES)  # fmt: skip
    return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def _approx(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [tuple(pytest.approx(v) if isinstance(v, float) else v for v in r) for r in rows]


def check_hand_case(conn: psycopg.Connection, schema: str) -> None:
    """The views and the line dashboard's panels give the hand-computed numbers."""
    a = conn.execute(
        f"SELECT seconds, episode_start FROM {schema}.v_state_interval WHERE device_id = %s "
        "ORDER BY ts", (A,),
    ).fetchall()  # fmt: skip
    assert a == A_INTERVALS
    reasons = conn.execute(
        f"SELECT reason FROM {schema}.v_state_interval WHERE device_id = %s ORDER BY ts", (A,)
    ).fetchall()
    assert [r for (r,) in reasons] == [None, "breakdown", "breakdown", "tool_change", None,
                                       "unspecified", "breakdown", None, None]  # fmt: skip
    hourly = conn.execute(
        f"SELECT bucket, device_id, state, reason, seconds, episodes FROM {schema}.v_state_hourly "
        "WHERE state = 'down' AND line_id = %s ORDER BY 1, 2, 4",
        (LINE,),
    ).fetchall()
    assert hourly == [
        (T0 - timedelta(hours=1), B, "down", "breakdown", 20, 1),
        (T0, A, "down", "breakdown", 35, 2),
        (T0, A, "down", "tool_change", 10, 1),
        (T0, B, "down", "breakdown", 20, 0),
    ]
    assert _panel(conn, ld.PARETO.format(scope=ld.LINE_SCOPE), schema) == _approx(PARETO)
    assert _panel(conn, ld.REASONS.format(scope=ld.LINE_SCOPE), schema) == _approx(REASONS)
    for level, scope in (("line", ld.LINE_SCOPE), ("device", ld.DEVICE_SCOPE)):
        rows = _panel(conn, ld.MTBF_MTTR.format(scope=scope), schema)
        assert rows == _approx([MTBF_MTTR[level]])
    assert _panel(conn, ld.TEEP.replace("{level}", "line"), schema) == _approx([TEEP])
    oee, utilisation, teep = TEEP
    assert teep == pytest.approx(oee * utilisation)  # TEEP = OEE × utilisation


def test_hand_case_on_plain_postgresql(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    reader: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("downtime")
    assert migrate(migrator, schema, settings)[0] == "plain"
    migrator.execute(f"SET search_path TO {schema}")
    insert_hand_case(migrator, plain=True)
    check_hand_case(reader, schema)
