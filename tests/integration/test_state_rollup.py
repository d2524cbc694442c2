"""The downtime roll-up (migration 0015, sinks/state_rollup.py) on the hand-written telemetry
of test_downtime: its hours worked out by hand, refreshed twice to the same rows, and the
line dashboard's downtime panels giving the same numbers from it on a long range as from
the samples on a range one hour shorter (both starting on the hour). And the state
timeline, which reads a row per change of state over any range. Plain PostgreSQL, and the
roll-up's hours and a panel on the WASM TimescaleDB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from dashboards import line_device as ld
from dashboards.context import Build
from dashboards.macros import TimeRange, expand
from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration.pglite_server import pglite_timescaledb
from tests.integration.test_downtime import (
    LINE,
    T0,
    VARIABLES,
    A,
    B,
    _approx,
    insert_hand_case,
)

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
# (bucket, device, state, reason, seconds, episodes, ongoing) of the down hours: B's first
# interval (07:59:50, 10 s to 08:00:00, 10 s after) is cut at 08:00, its episode starts at
# 07:00 and is under way at 08:00; A's intervals all lie in 08:00.
DOWN_HOURS = [
    (T0 - HOUR, B, "down", "breakdown", 10, 1, False),
    (T0, A, "down", "breakdown", 35, 2, False),
    (T0, A, "down", "tool_change", 10, 1, False),
    (T0, B, "down", "breakdown", 30, 0, True),
]
# From 08:00 with no end in sight, no interval is cut at the end (unlike test_downtime's
# 08:00–08:02): A runs 10 + 15 + 15 + 15 s, B 30 + 30 s; down A 45 s in 3, B 30 s in 1.
MTBF_MTTR = {"line": (115 / 4, 75 / 4, 4), "device": (55 / 3, 45 / 3, 3)}
PARETO = [("breakdown", 65, None, None), ("changeover", None, None, 30),
          ("tool_change", 10, None, None), ("unspecified", None, 5, None)]  # fmt: skip
REASONS = [("breakdown", 65, 3, 65 / 3), ("changeover", 30, 1, 30), ("tool_change", 10, 1, 10),
           ("unspecified", 5, 1, 5)]  # fmt: skip
SAMPLES = TimeRange(T0, T0 + timedelta(days=2))  # up to 2 days: the samples
HOURS = TimeRange(T0, T0 + timedelta(days=2, hours=1))  # longer: the roll-up's hours


@pytest.fixture
def schema(migrator: psycopg.Connection, settings: Settings, schemas: Callable[[str], str]) -> str:
    """The hand case, and `iiot db maintain` as if run at 11:00 (hours up to 10:00 closed)."""
    name = schemas("states")
    assert migrate(migrator, name, settings)[0] == "plain"
    migrator.execute(f"SET search_path TO {name}")
    insert_hand_case(migrator, plain=True)
    assert "state_hourly" in maintain(migrator, name, now=T0 + 3 * HOUR).refreshed
    return name


def _hours(conn: psycopg.Connection, schema: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT bucket, device_id, state, reason, seconds, episodes, ongoing "
        f"FROM {schema}.v_state_rollup WHERE line_id = %s ORDER BY 1, 2, 3, 4",
        (LINE,),
    ).fetchall()


def test_hours_by_hand_and_a_second_refresh_writes_the_same(
    migrator: psycopg.Connection, reader: psycopg.Connection, schema: str
) -> None:
    hours = _hours(reader, schema)
    assert [h for h in hours if h[2] == "down"] == DOWN_HOURS
    # every state's seconds: A from 08:00:00 to 08:02:05 less its gaps (5 s, 15 s)
    seconds = {d: sum(h[4] for h in hours if h[1] == d) for d in (A, B)}  # type: ignore[misc]
    assert seconds == {A: 125 - 5 - 15, B: 20 + 20 + 30 + 30 + 30}
    migrator.execute("SELECT refresh_state_hourly(%s, %s)", (T0 - 2 * HOUR, T0 + 3 * HOUR))
    maintain(migrator, schema, now=T0 + 3 * HOUR)
    assert _hours(reader, schema) == hours


def _panel(conn: psycopg.Connection, query: str, schema: str, time_range: TimeRange) -> object:
    sql = expand(Build(schema=schema).sql(query), time_range, interval_s=60, timescaledb=False,
                 variables=VARIABLES)  # fmt: skip
    return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_samples_and_hours_give_the_same_panels(reader: psycopg.Connection, schema: str) -> None:
    queries = {
        "line Pareto": (ld.PARETO.format(scope=ld.LINE_SCOPE), PARETO),
        "line reasons": (ld.REASONS.format(scope=ld.LINE_SCOPE), REASONS),
        "line MTBF": (ld.MTBF_MTTR.format(scope=ld.LINE_SCOPE), [MTBF_MTTR["line"]]),
        "device MTBF": (ld.MTBF_MTTR.format(scope=ld.DEVICE_SCOPE), [MTBF_MTTR["device"]]),
    }
    for where, (query, expected) in queries.items():
        assert _panel(reader, query, schema, SAMPLES) == _approx(expected), where
        assert _panel(reader, query, schema, HOURS) == _approx(expected), where


def test_a_long_range_reads_only_the_rollup(reader: psycopg.Connection, schema: str) -> None:
    """Over 2 days the samples' branch is folded away: no telemetry is read."""
    query = Build(schema=schema).sql(ld.MTBF_MTTR.format(scope=ld.LINE_SCOPE))
    for time_range, reads in ((SAMPLES, "telemetry"), (HOURS, "state_hourly")):
        sql = expand(query, time_range, interval_s=60, timescaledb=False, variables=VARIABLES)
        plan = "\n".join(r[0] for r in reader.execute(f"EXPLAIN {sql}").fetchall())  # type: ignore[arg-type]
        other = "state_hourly" if reads == "telemetry" else "telemetry"
        assert f" on {reads}" in plan and f" on {other}" not in plan, plan


def test_the_state_timeline_reads_a_row_per_change(reader: psycopg.Connection, schema: str) -> None:
    """A's nine samples as seven rows: each change of state, and the last sample."""
    rows = _panel(reader, ld.STATE_CHANGES, schema, SAMPLES)
    changes = [(0, "running"), (10, "down"), (40, "running"), (60, "idle"), (65, "down"),
               (80, "running"), (110, "running")]  # fmt: skip
    assert rows == [(T0 + timedelta(seconds=at), state) for at, state in changes]


def test_the_same_on_timescaledb() -> None:
    """On the WASM TimescaleDB (telemetry a hypertable), `iiot db maintain` fills the same
    hours, and the panels give the same figures from them."""
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate(conn, "iiot", Settings())[0] == "timescaledb"
        conn.execute("SET search_path TO iiot, public")
        insert_hand_case(conn, plain=False)
        assert maintain(conn, "iiot", now=T0 + 3 * HOUR).refreshed == ["state_hourly"]
        assert [h for h in _hours(conn, "iiot") if h[2] == "down"] == DOWN_HOURS
        query = ld.MTBF_MTTR.format(scope=ld.LINE_SCOPE)
        for time_range in (SAMPLES, HOURS):
            assert _panel(conn, query, "iiot", time_range) == _approx([MTBF_MTTR["line"]])
