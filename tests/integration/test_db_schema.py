"""Migrations on the real (plain) PostgreSQL: from zero, re-run, roles, partitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors, sql

from dashboards.sqlparts import RATIOS
from iiot.settings import Settings
from simulators import Simulation, SimulationOptions
from simulators.catalogue import ENTERPRISES
from sinks.migrate import migrate, pending_files
from sinks.partitions import maintain, partitions_of
from tests.integration.sink_support import T0, check_rollups, insert_examples

pytestmark = pytest.mark.integration

VIEWS = (
    "v_device", "v_enterprise", "v_telemetry", "v_telemetry_metric", "v_metric_hourly",
    "v_metric_daily", "v_oee", "v_oee_hourly", "v_oee_daily", "v_digitization", "v_alarm",
    "v_alarm_open", "v_deadletter", "v_metric_rollup", "v_oee_rollup", "v_city",
    "v_state_interval", "v_state_hourly", "v_plant_shift", "v_oee_shift", "v_state_rollup",
)  # fmt: skip
TABLES = ("enterprise", "device", "plant_calendar", "telemetry", "oee", "digitization", "alarm",
          "deadletter", "state_hourly")  # fmt: skip


def test_migrations_from_zero_then_again(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("zero")
    flavour, applied = migrate(migrator, schema, settings)
    assert flavour == "plain"  # Debian's PostgreSQL has no TimescaleDB
    assert applied == [p.stem for p in pending_files("plain")]
    assert migrate(migrator, schema, settings) == ("plain", [])
    recorded = writer.execute(
        sql.SQL("SELECT version, flavour FROM {}.schema_migrations ORDER BY 1").format(
            sql.Identifier(schema)
        )
    ).fetchall()
    assert recorded == [(v, "plain") for v in applied]
    for view in VIEWS:  # every dashboard view answers
        writer.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, view)))


def test_reader_reads_everything_and_writes_nothing(
    migrator: psycopg.Connection,
    reader: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("roles")
    migrate(migrator, schema, settings)
    maintain(migrator, schema)
    for name in (*TABLES, *VIEWS, "metric_hourly", "oee_daily"):
        reader.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, name)))
    reader.execute("SET default_transaction_read_only = off")  # privileges are the real guard
    table = sql.Identifier(schema, "alarm")
    for statement in (
        sql.SQL("INSERT INTO {} VALUES ('d', 'offline', now(), 'raised', now(), 1, 1, 'x')"),
        sql.SQL("DELETE FROM {}"),
        sql.SQL("TRUNCATE {}"),
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute(statement.format(table))
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute(
            sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(schema, "oee_daily"))
        )


def test_maintain_makes_partitions_ahead_and_drops_expired(
    migrator: psycopg.Connection, settings: Settings, schemas: Callable[[str], str]
) -> None:
    schema = schemas("parts")
    migrate(migrator, schema, settings.model_copy(update={"telemetry_retention_days": 2}))
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    first = maintain(migrator, schema, now=now - timedelta(days=10), days_ahead=1)
    assert "telemetry_p20261116" in first.created
    middle = maintain(migrator, schema, now=now - timedelta(days=2), days_ahead=0)
    assert middle.created[-1] == "telemetry_p20261124"
    assert "telemetry_p20261116" in middle.dropped  # ended more than 2 days before then
    report = maintain(migrator, schema, now=now, days_ahead=2)
    assert {"telemetry_p20261126", "telemetry_p20261128"} <= set(report.created)
    left = partitions_of(migrator, schema, "telemetry")
    assert "telemetry_p20261116" not in left
    assert "telemetry_p20261124" in left  # within retention: kept
    assert maintain(migrator, schema, now=now, days_ahead=2).created == []


def test_rollups_add_parts_after_maintain(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("rollups")
    migrate(migrator, schema, settings)
    writer.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    maintain(migrator, schema, now=T0)
    insert_examples(writer)
    maintain(migrator, schema, now=T0)  # plain PostgreSQL: roll-ups are as fresh as this
    check_rollups(writer)


def test_an_hour_without_planned_time_has_no_availability(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    """A window all planned stop: A is null in the roll-ups and the panels' sums, not 1.0
    (PostgreSQL's LEAST skips nulls: 0016_availability_null)."""
    schema = schemas("no_plan")
    migrate(migrator, schema, settings)
    writer.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    maintain(migrator, schema, now=T0)  # the partitions
    insert_examples(writer)
    writer.execute(
        "INSERT INTO oee VALUES ('device', 'qd-press01', %s, %s, 0, 1, 12, 0, 0, 0, 0, 0, 60, 0, "
        "0, 0, 0, 0, null, null, null, null, false)",
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=1)),
    )
    maintain(migrator, schema, now=T0)
    hour = T0 + timedelta(hours=2)
    hours = writer.execute("SELECT bucket, availability FROM v_oee_hourly ORDER BY 1").fetchall()
    assert hours == [(T0, pytest.approx(90 / 105)), (hour, None)]
    [(day,)] = writer.execute("SELECT availability FROM v_oee_daily").fetchall()
    assert day == pytest.approx(90 / 105)  # the planned stop adds no planned time
    [(availability,)] = writer.execute(
        f"SELECT {RATIOS.split(' AS availability')[0]} FROM v_oee WHERE window_start >= %s",
        (hour,),
    ).fetchall()
    assert availability is None


def test_every_city_of_the_simulated_registry_has_coordinates(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    """The province Geomap places cities by `v_city`: each city a birth names is there."""
    schema = schemas("cities")
    migrate(migrator, schema, settings)
    births = Simulation(SimulationOptions(devices=2_000)).births()
    assert {b.enterprise.id for b in births} == {e.id for e in ENTERPRISES}  # every enterprise
    query = sql.SQL("SELECT city, name_zh, name_en, latitude, longitude FROM {}")
    rows = writer.execute(query.format(sql.Identifier(schema, "v_city"))).fetchall()
    places = {city: (zh, en, lat, lon) for city, zh, en, lat, lon in rows}
    cities = {b.enterprise.city for b in births}
    assert cities <= set(places), f"no coordinates for {cities - set(places)}"
    for zh, en, lat, lon in places.values():
        assert zh and en
        assert 34.3 < lat < 38.5 and 114.7 < lon < 122.8  # inside Shandong, not swapped


def test_dead_letters_counted_twice_become_one_row_per_bad_record(
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before 0009 rows were keyed by the letter's own offset: a bad record lettered by the
    stream and by the sink, and again after a replay, was several rows."""
    schema = schemas("letters")
    before_0009 = [p for p in pending_files("plain") if p.stem < "0009"]
    monkeypatch.setattr("sinks.migrate.pending_files", lambda flavour: before_0009)
    migrate(migrator, schema, settings)
    monkeypatch.undo()
    table = sql.Identifier(schema, "deadletter")
    letters = [  # (dl_offset, stage, origin partition and offset)
        (0, "sink", 1, 40), (1, "streams.ingest", 1, 40), (2, "streams.ingest", 1, 40),
        (3, "sink", 1, 40), (4, "streams.ingest", 2, 40), (5, "producer", None, None),
    ]  # fmt: skip
    insert = sql.SQL(
        "INSERT INTO {} (dl_partition, dl_offset, received_at, stage, code, reason, topic, "
        "partition, \"offset\") VALUES (0, %s, %s, %s, 'invalid_json', 'x', 'iiot.telemetry', "
        "%s, %s)"
    ).format(table)
    for dl_offset, stage, partition, offset in letters:
        at = T0 + timedelta(seconds=dl_offset)
        writer.execute(insert, (dl_offset, at, stage, partition, offset))
    later = ["0009_deadletter_origin", "0010_plain", "0011_telemetry_reason",
             "0012_state_intervals", "0013_shifts", "0015_state_hourly",
             "0016_availability_null"]  # fmt: skip
    assert migrate(migrator, schema, settings) == ("plain", later)
    keys = sql.SQL(
        "SELECT origin_topic, origin_partition, origin_offset, stage, dl_offset "
        "FROM {} ORDER BY 1, 2, 3"
    ).format(table)
    rows = writer.execute(keys).fetchall()
    assert rows == [
        ("iiot.deadletter", 0, 5, "producer", 5),  # never in Kafka: its letter's position
        ("iiot.telemetry", 1, 40, "streams.ingest", 1),  # the stream's first letter wins
        ("iiot.telemetry", 2, 40, "streams.ingest", 4),
    ]
    writer.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, "v_deadletter")))
