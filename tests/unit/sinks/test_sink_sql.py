"""The sinks' SQL without a database: migration files, splitting, upserts, partition bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iiot.settings import Settings
from sinks.migrate import load, statements
from sinks.partitions import Policy
from sinks.tables import OEE, TARGETS, TELEMETRY
from sinks.writer import upsert_sql


def test_splitter_keeps_quotes_comments_and_bodies_whole() -> None:
    text = "SELECT ';'; -- a; comment\nDO $$ BEGIN PERFORM 1; END $$;\nSELECT 2"
    assert statements(text) == [
        "SELECT ';';",
        "-- a; comment\nDO $$ BEGIN PERFORM 1; END $$;",
        "SELECT 2",
    ]


@pytest.mark.parametrize("flavour", ["timescaledb", "plain"])
def test_each_path_gets_its_files_with_every_placeholder_filled(flavour: str) -> None:
    migrations = load(flavour, Settings(telemetry_retention_days=9))  # type: ignore[arg-type]
    other = "plain" if flavour == "timescaledb" else "timescaledb"
    assert not any(m.version.endswith(other) for m in migrations)
    assert [m.version[:4] for m in migrations] == [
        "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010",
        "0011", "0012", "0013", "0015", "0016",
    ]  # fmt: skip
    text = "\n".join(m.text for m in migrations)
    assert "@" not in text.replace("@>", "")
    assert ("PARTITION BY RANGE (ts)" in text) == (flavour == "plain")
    assert "9 days" in text


def test_kpi_rows_are_replaced_only_by_a_higher_revision() -> None:
    query = upsert_sql("plant", OEE, "stage_oee").as_string(None)
    assert "DISTINCT ON" in query
    assert 'WHERE t."revision" < EXCLUDED."revision"' in query
    assert "arrived_at = DEFAULT" in query  # the replacing row arrived now


def test_rows_name_their_columns_so_the_arrival_time_is_the_databases() -> None:
    """`arrived_at` is left to its DEFAULT now(): never a column the sink sends."""
    for target in TARGETS:
        assert "arrived_at" not in target.names
        names = ", ".join(f'"{name}"' for name in target.names)
        query = upsert_sql("plant", target, f"stage_{target.table}").as_string(None)
        assert f"({names}) SELECT " in query


def test_telemetry_keeps_the_first_row_of_a_key() -> None:
    query = upsert_sql("plant", TELEMETRY, "stage_telemetry").as_string(None)
    assert query.endswith('ON CONFLICT ("device_id", "ts", "seq") DO NOTHING')


def test_partition_bounds_align_to_utc_days_and_weeks() -> None:
    day = Policy("telemetry", timedelta(days=1), timedelta(days=30))
    ts = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)
    assert day.lower_bound(ts) == datetime(2026, 11, 26, tzinfo=UTC)
    assert day.partition_name(day.lower_bound(ts)) == "telemetry_p20261126"
    week = Policy("oee", timedelta(days=7), timedelta(days=730))
    lower = week.lower_bound(ts)
    assert lower <= ts < lower + timedelta(days=7)
    assert (lower - datetime(2000, 1, 1, tzinfo=UTC)) % timedelta(days=7) == timedelta(0)
