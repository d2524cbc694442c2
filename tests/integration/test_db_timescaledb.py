"""The TimescaleDB path of the migrations, on the WASM TimescaleDB (npm, DESIGN.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration.pglite_server import pglite_timescaledb
from tests.integration.test_db_schema import VIEWS

pytestmark = pytest.mark.integration

SCHEMA = "iiot"


@pytest.fixture(scope="module")
def tsdb() -> Iterator[psycopg.Connection]:
    """A migrated TimescaleDB; the first migration runs here, so each test sees its result."""
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        flavour, applied = migrate(conn, SCHEMA, Settings(telemetry_retention_days=21))
        assert flavour == "timescaledb"
        assert applied == ["0001_registry", "0002_facts", "0003_timescaledb", "0004_views"]
        yield conn


def _column(conn: psycopg.Connection, query: str) -> list[object]:
    return [row[0] for row in conn.execute(query).fetchall()]


def test_rerun_applies_nothing(tsdb: psycopg.Connection) -> None:
    assert migrate(tsdb, SCHEMA, Settings()) == ("timescaledb", [])


def test_hypertables_and_compression(tsdb: psycopg.Connection) -> None:
    hypertables = _column(
        tsdb, "SELECT hypertable_name FROM timescaledb_information.hypertables "
        f"WHERE hypertable_schema = '{SCHEMA}' ORDER BY 1",
    )  # fmt: skip
    assert hypertables == ["digitization", "oee", "telemetry"]
    segment_by = tsdb.execute(
        "SELECT attname FROM timescaledb_information.compression_settings "
        f"WHERE hypertable_schema = '{SCHEMA}' AND hypertable_name = 'telemetry' "
        "AND segmentby_column_index IS NOT NULL"
    ).fetchall()
    assert segment_by == [("device_id",)]


def test_policies_exist(tsdb: psycopg.Connection) -> None:
    jobs = tsdb.execute(
        "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs "
        f"WHERE hypertable_schema = '{SCHEMA}' OR hypertable_schema LIKE '_timescaledb%'"
    ).fetchall()
    by_kind: dict[str, set[str]] = {}
    for proc, table, _config in jobs:
        by_kind.setdefault(proc, set()).add(table)
    assert by_kind["policy_retention"] == {"telemetry", "oee", "digitization"}
    assert by_kind["policy_compression"] == {"telemetry", "oee"}
    assert len(by_kind["policy_refresh_continuous_aggregate"]) == 4
    retention = [c for p, t, c in jobs if p == "policy_retention" and t == "telemetry"]
    assert retention[0]["drop_after"] == "21 days"  # from settings


def test_continuous_aggregates_are_real_time(tsdb: psycopg.Connection) -> None:
    caggs = tsdb.execute(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates "
        f"WHERE view_schema = '{SCHEMA}' ORDER BY 1"
    ).fetchall()
    assert caggs == [
        ("metric_daily", False), ("metric_hourly", False),
        ("oee_daily", False), ("oee_hourly", False),
    ]  # fmt: skip


def test_every_view_answers_with_rows(tsdb: psycopg.Connection) -> None:
    tsdb.execute(f"SET search_path TO {SCHEMA}, public")
    tsdb.execute(
        "INSERT INTO enterprise VALUES ('qd-haier', 'Haier', 'qingdao', 'appliances', true, now())"
    )
    tsdb.execute(
        "INSERT INTO device VALUES ('qd-press01', 'qd-haier', 'p1', 'l1', 'press', true, true, "
        "5, 12.5, now())"
    )
    for seq, power in ((1, 4.0), (2, 6.0)):
        tsdb.execute(
            "INSERT INTO telemetry VALUES ('qd-press01', %s, %s, 'running', 1, 1, null, null, %s)",
            (seq, datetime(2026, 11, 26, 8, seq, tzinfo=UTC), f'{{"power_kw": {power}}}'),
        )
    # Two windows of one device: OEE of the hour comes from added parts (16/45 and 0/60).
    for minute, run_s, ideal_run_s, total, good in ((0, 30, 24, 3, 2), (1, 60, 0, 0, 0)):
        tsdb.execute(
            "INSERT INTO oee VALUES ('device', 'qd-press01', %s, %s, 0, 1, 12, 0, %s, 0, 0, "
            "%s, %s, 0, %s, %s, %s, %s, null, null, null, null, false)",
            (datetime(2026, 11, 26, 8, minute, tzinfo=UTC),
             datetime(2026, 11, 26, 8, minute + 1, tzinfo=UTC), run_s,
             60 - run_s - (15 if minute == 0 else 0), 15 if minute == 0 else 0,
             45 if minute == 0 else 60, ideal_run_s, total, good),
        )  # fmt: skip
    for view in VIEWS:
        tsdb.execute(f"SELECT * FROM {view}").fetchall()
    mean = tsdb.execute("SELECT samples, value_sum, value_mean FROM v_metric_hourly").fetchall()
    assert mean == [(2, 10.0, 5.0)]  # real time: not refreshed, already there
    hour = tsdb.execute("SELECT planned_s, oee FROM v_oee_hourly").fetchone()
    assert hour is not None and hour[0] == 105.0
    assert hour[1] == pytest.approx(24 * (2 / 3) / 105)  # not the mean of 16/45 and 0


def test_maintain_leaves_timescaledb_to_its_jobs(tsdb: psycopg.Connection) -> None:
    report = maintain(tsdb, SCHEMA)
    assert (report.created, report.dropped, report.refreshed) == ([], [], [])
