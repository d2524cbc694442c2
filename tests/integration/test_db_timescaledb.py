"""The TimescaleDB path of the migrations, on the WASM TimescaleDB (npm, docs/contributing.md)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from iiot.settings import Settings
from sinks.migrate import migrate, pending_files
from sinks.partitions import maintain
from tests.integration import sink_support as s
from tests.integration.pglite_server import pglite_timescaledb
from tests.integration.test_db_schema import VIEWS
from tests.integration.test_downtime import check_hand_case, insert_hand_case

pytestmark = pytest.mark.integration

SCHEMA = "iiot"
# A sample written before 0011, on a day of its own: its chunk is compressed before 0011 runs.
OLD_SAMPLE = "('qd-old01', 1, '2026-01-05T08:00:00Z', 'down', 1, 1, null, null, '{}')"


@pytest.fixture(scope="module")
def tsdb() -> Iterator[psycopg.Connection]:
    """A migrated TimescaleDB; the first migration runs here, so each test sees its result.
    0011 comes last, onto a telemetry chunk already compressed (`OLD_SAMPLE`)."""
    settings = Settings(telemetry_retention_days=21)
    before_0011 = [p for p in pending_files("timescaledb") if p.stem < "0011"]
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sinks.migrate.pending_files", lambda flavour: before_0011)
            flavour, applied = migrate(conn, SCHEMA, settings)
        conn.execute(f"INSERT INTO {SCHEMA}.telemetry VALUES {OLD_SAMPLE}")
        compressed = _column(
            conn, f"SELECT compress_chunk(c) FROM show_chunks('{SCHEMA}.telemetry') c"
        )
        assert flavour == "timescaledb" and len(compressed) == 1
        assert applied + migrate(conn, SCHEMA, settings)[1] == [
            "0001_registry", "0002_facts", "0003_timescaledb", "0004_rollups",
            "0005_rollups_timescaledb", "0006_views", "0007_arrival", "0008_city",
            "0009_deadletter_origin", "0010_timescaledb", "0011_telemetry_reason",
            "0012_state_intervals", "0013_shifts", "0015_state_hourly", "0016_availability_null",
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


def test_maintain_leaves_timescaledb_to_its_jobs_but_the_downtime_rollup(
    tsdb: psycopg.Connection,
) -> None:
    report = maintain(tsdb, SCHEMA)  # state_hourly is no continuous aggregate (0015)
    assert (report.created, report.dropped, report.refreshed) == ([], [], ["state_hourly"])


def test_the_reason_column_joins_a_compressed_chunk(tsdb: psycopg.Connection) -> None:
    """0011 rewrote nothing: the sample compressed before it reads NULL, and one written
    into that chunk since keeps its reason."""
    tsdb.execute(
        f"INSERT INTO {SCHEMA}.telemetry (device_id, seq, ts, state, count_total, count_good, "
        "reason, metrics) VALUES ('qd-old01', 2, '2026-01-05T08:00:05Z', 'down', 1, 1, "
        "'breakdown', '{}')"
    )
    rows = tsdb.execute(
        f"SELECT seq, reason FROM {SCHEMA}.v_telemetry WHERE device_id = 'qd-old01' ORDER BY seq"
    ).fetchall()
    assert rows == [(1, None), (2, "breakdown")]


def test_downtime_mtbf_mttr_teep_by_hand(tsdb: psycopg.Connection) -> None:
    """The hand-computed case of tests/integration/test_downtime.py on TimescaleDB."""
    tsdb.execute(f"SET search_path TO {SCHEMA}, public")
    insert_hand_case(tsdb, plain=False)
    check_hand_case(tsdb, SCHEMA)
