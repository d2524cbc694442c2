"""The TimescaleDB path of the migrations, on the WASM TimescaleDB (npm, docs/contributing.md)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration import sink_support as s
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
        assert applied == [
            "0001_registry", "0002_facts", "0003_timescaledb", "0004_rollups",
            "0005_rollups_timescaledb", "0006_views", "0007_arrival", "0008_city",
            "0009_deadletter_origin",
            "0010_timescaledb", "0011_telemetry_reason",
        ]  # fmt: skip
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
    s.insert_examples(tsdb)
    for view in VIEWS:
        tsdb.execute(f"SELECT * FROM {view}").fetchall()
    s.check_rollups(tsdb)


def test_maintain_leaves_timescaledb_to_its_jobs(tsdb: psycopg.Connection) -> None:
    report = maintain(tsdb, SCHEMA)
    assert (report.created, report.dropped, report.refreshed) == ([], [], [])
