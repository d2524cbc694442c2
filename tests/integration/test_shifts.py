"""Shift calendars on the real PostgreSQL (migration 0013): the sink keeps each plant's
latest calendar, and OEE windows fall into the shift instances worked out by hand below —
a night shift across midnight, windows on a boundary, a plant in another time zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from dashboards.catalog import render_all
from dashboards.context import Build
from dashboards.macros import TimeRange, Variable, expand
from dashboards.sqlparts import RATIOS
from iiot.messages import DeviceBirth
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.migrate import migrate
from sinks.partitions import PartitionKeeper, maintain, policies
from sinks.tables import ROUTES
from sinks.writer import Batch, TableWriter
from tests.conftest import BIRTH
from tests.integration.dashboard_data import FakeOrigin

pytestmark = pytest.mark.integration

THREE = {"time_zone": "Asia/Shanghai", "shifts": [
    {"id": "early", "name": "早班", "start": "06:00", "end": "14:00"},
    {"id": "middle", "name": "中班", "start": "14:00", "end": "22:00"},
    {"id": "night", "name": "夜班", "start": "22:00", "end": "06:00"},
]}  # fmt: skip
# Berlin, UTC+1 in January: two 12-hour shifts.
BERLIN = {"time_zone": "Europe/Berlin", "shifts": [
    {"id": "day", "name": "Tagschicht", "start": "06:00", "end": "18:00"},
    {"id": "night", "name": "Nachtschicht", "start": "18:00", "end": "06:00"},
]}  # fmt: skip
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _utc(hours: int, minutes: int = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


@pytest.fixture
def schema(migrator: psycopg.Connection, schemas: Callable[[str], str], settings: Settings) -> str:
    name = schemas("shifts")
    migrate(migrator, name, settings)
    return name


def _land(writer: psycopg.Connection, schema: str, births: list[tuple[dict, datetime]]) -> None:
    """The births through the sink's route and writer, one checkpoint each."""
    table_writer = TableWriter(writer, schema, PartitionKeeper(schema, policies(writer, schema)))
    for n, (fields, at) in enumerate(births):
        batch = Batch()
        origin = FakeOrigin(n, at)
        birth = DeviceBirth.model_validate({**BIRTH, **fields}, strict=False)
        for target, row in ROUTES[Topic.REGISTRY].rows(birth, origin):
            batch.add(target, row, origin)  # type: ignore[arg-type]
        assert table_writer.write(batch) == []


def _shifts(conn: psycopg.Connection, schema: str) -> list[tuple[object, ...]]:
    return conn.execute(
        f"SELECT plant_id, shift_id, shift_name, starts::text, ends::text, time_zone "
        f"FROM {schema}.v_plant_shift ORDER BY plant_id, starts"
    ).fetchall()


def test_the_sink_keeps_each_plants_latest_calendar(
    writer: psycopg.Connection, reader: psycopg.Connection, schema: str
) -> None:
    two = {**THREE, "shifts": THREE["shifts"][:2]}
    _land(writer, schema, [
        ({"device_id": "m1", "shift_calendar": two}, _utc(1)),
        ({"device_id": "m2"}, _utc(2)),  # no calendar: the plant keeps its own
        ({"device_id": "m3", "shift_calendar": THREE}, _utc(3)),  # newer: replaces it whole
        ({"device_id": "m4", "shift_calendar": two}, _utc(0)),  # older, arriving late: ignored
        ({"device_id": "b1", "plant_id": "de-p1", "shift_calendar": BERLIN}, _utc(1)),
    ])  # fmt: skip
    assert _shifts(reader, schema) == [
        ("de-p1", "day", "Tagschicht", "06:00:00", "18:00:00", "Europe/Berlin"),
        ("de-p1", "night", "Nachtschicht", "18:00:00", "06:00:00", "Europe/Berlin"),
        ("qd-haier-p1", "early", "早班", "06:00:00", "14:00:00", "Asia/Shanghai"),
        ("qd-haier-p1", "middle", "中班", "14:00:00", "22:00:00", "Asia/Shanghai"),
        ("qd-haier-p1", "night", "夜班", "22:00:00", "06:00:00", "Asia/Shanghai"),
    ]


# (level, entity, UTC hour, minute, planned_s, ideal_run_s, count_total, count_good) and the
# shift instance worked out by hand: (local shift date, shift id).
WINDOWS = [
    # Qingdao, UTC+8: 13:59 UTC is 21:59 local, the middle shift's last minute …
    ("device", "m1", 13, 59, 60, 30, 10, 9, (date(2026, 1, 5), "middle")),
    # … 14:00 UTC is 22:00 local, on the boundary: the night shift of the 5th …
    ("device", "m1", 14, 0, 60, 30, 10, 9, (date(2026, 1, 5), "night")),
    # … 00:30 local on the 6th, past midnight: still the night shift of the 5th …
    ("device", "m1", 16, 30, 60, 48, 16, 16, (date(2026, 1, 5), "night")),
    # … 05:59 local: its last minute; 06:00 local: the early shift of the 6th.
    ("device", "m1", 21, 59, 60, 0, 0, 0, (date(2026, 1, 5), "night")),
    ("device", "m1", 22, 0, 60, 60, 20, 20, (date(2026, 1, 6), "early")),
    # The line and the plant of m1 take the plant's calendar.
    ("line", "qd-haier-p1-l2", 16, 30, 120, 96, 32, 30, (date(2026, 1, 5), "night")),
    ("plant", "qd-haier-p1", 22, 0, 60, 60, 20, 20, (date(2026, 1, 6), "early")),
    # Berlin, UTC+1: 04:59 UTC is 05:59 local, the night shift of the 4th; 17:00 UTC is
    # 18:00 local, the night shift of the 5th. Same UTC times, other shifts than Qingdao's.
    ("device", "b1", 4, 59, 60, 30, 10, 10, (date(2026, 1, 4), "night")),
    ("device", "b1", 5, 0, 60, 30, 10, 10, (date(2026, 1, 5), "day")),
    ("device", "b1", 17, 0, 60, 30, 10, 10, (date(2026, 1, 5), "night")),
]  # fmt: skip


def _insert_windows(migrator: psycopg.Connection, schema: str) -> None:
    migrator.execute(f"SET search_path TO {schema}")
    migrator.execute("SELECT ensure_partition('oee', %s)", (T0,))
    for level, entity, hour, minute, planned, ideal, total, good, _ in WINDOWS:
        migrator.execute(
            "INSERT INTO oee VALUES (%s, %s, %s, %s, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, %s, %s, %s, "
            "%s, null, null, null, null, false)",
            (level, entity, _utc(hour, minute), _utc(hour, minute + 1), planned, ideal, total,
             good),
        )  # fmt: skip


@pytest.fixture
def windows(
    migrator: psycopg.Connection, writer: psycopg.Connection, schema: str
) -> list[tuple[object, ...]]:
    _land(writer, schema, [({"device_id": "m1", "shift_calendar": THREE}, T0),
                           ({"device_id": "b1", "plant_id": "de-p1", "line_id": "de-p1-l1",
                             "shift_calendar": BERLIN}, T0)])  # fmt: skip
    _insert_windows(migrator, schema)
    maintain(migrator, schema)  # the hourly roll-up, refreshed
    return [(level, entity, _utc(h, m), *shift) for level, entity, h, m, *_, shift in WINDOWS]


def test_each_window_falls_into_its_shift_instance(
    reader: psycopg.Connection, schema: str, windows: list[tuple[object, ...]]
) -> None:
    found = reader.execute(
        f"SELECT level, entity_id, window_start, shift_date, shift_id "
        f"FROM {schema}.v_oee_shift WHERE grain = 'window' ORDER BY plant_id DESC, level, "
        "entity_id, window_start"
    ).fetchall()
    assert sorted(found) == sorted(windows)


def test_a_night_shift_instance_spans_midnight_in_its_zone(
    reader: psycopg.Connection, schema: str, windows: list[tuple[object, ...]]
) -> None:
    bounds = reader.execute(
        f"SELECT DISTINCT plant_id, shift_date, shift_id, shift_start, shift_end "
        f"FROM {schema}.v_oee_shift WHERE shift_id = 'night' ORDER BY 1, 2"
    ).fetchall()
    assert bounds == [
        ("de-p1", date(2026, 1, 4), "night", _utc(-7), _utc(5)),  # 18:00–06:00 UTC+1
        ("de-p1", date(2026, 1, 5), "night", _utc(17), _utc(29)),
        ("qd-haier-p1", date(2026, 1, 5), "night", _utc(14), _utc(22)),  # 22:00–06:00 UTC+8
    ]


def test_a_shifts_ratios_come_from_its_added_parts(
    reader: psycopg.Connection, schema: str, windows: list[tuple[object, ...]]
) -> None:
    """m1's night shift of the 5th: planned 3 × 60 = 180 s, ideal run 30 + 48 + 0 = 78 s,
    good 9 + 16 + 0 = 25 of 26 parts: OEE = 78 × 25/26 / 180 = 0.41667, not the mean of the
    windows' OEE. Its middle shift: 30/60 × 9/10 = 0.45; the early shift of the 6th:
    60/60 × 20/20 = 1. The hourly roll-up gives the same (the shifts start on the hour)."""
    for grain in ("window", "hour"):
        rows = reader.execute(
            f"SELECT shift_date, shift_id, sum(planned_s), {RATIOS} FROM {schema}.v_oee_shift "
            "WHERE grain = %s AND level = 'device' AND entity_id = 'm1' "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            (grain,),
        ).fetchall()
        assert [(d, s, p, pytest.approx(oee)) for d, s, p, _, _, _, oee in rows] == [
            (date(2026, 1, 5), "middle", 60, 0.5 * 0.9),
            (date(2026, 1, 5), "night", 180, 78 * 25 / 26 / 180),
            (date(2026, 1, 6), "early", 60, 1.0),
        ], grain


LINE_PANELS = {"current": "Current shift: line OEE and good parts vs target",
               "days": "Line OEE per day (shift days)", "shifts": "Line OEE per shift"}  # fmt: skip


def _line_panels(reader: psycopg.Connection, schema: str, days: int) -> dict[str, list[tuple]]:
    """The line dashboard's shift panels over `days` from 2026-01-05 00:00 UTC, as Grafana
    sends them (macros expanded), with what the plan of the per-shift table scans."""
    build = Build(language="en", schema=schema, oee_target=0.85)
    panels = render_all(build)["iiot-line-device"]["panels"]
    found: dict[str, list[tuple]] = {}
    for key, title in LINE_PANELS.items():
        (panel,) = [p for p in panels if p["title"] == title]  # type: ignore[union-attr]
        sql = expand(str(panel["targets"][0]["rawSql"]), TimeRange(T0, T0 + timedelta(days=days)),
                     interval_s=60, timescaledb=False,
                     variables={"line": Variable("qd-haier-p1-l2")})  # fmt: skip
        found[key] = reader.execute(sql).fetchall()  # type: ignore[arg-type]
        if key == "shifts":
            plan = "\n".join(r[0] for r in reader.execute(f"EXPLAIN {sql}").fetchall())  # type: ignore[arg-type]
            # partitions by their parent: oee_p20260103 → oee
            scans = {re.sub(r"_p\d+$", "", name) for name in re.findall(r" on (oee\w*)", plan)}
            found["scans"] = [(name,) for name in sorted(scans)]
    return found


def test_the_line_dashboards_shift_panels_on_the_hand_case(
    migrator: psycopg.Connection, reader: psycopg.Connection, schema: str,
    windows: list[tuple[object, ...]],
) -> None:  # fmt: skip
    """The line's one window (00:30 local on the 6th, the night shift of the 5th): planned
    120 s, ideal run 96 s, 30 of 32 good: OEE = 96/120 × 30/32 = 0.75, per shift and per
    day, on the 1-minute windows (1 day) and on the hourly roll-up (30 days). Run time was
    not written (0): A = 0, P null. The current shift is now, with no window of the line."""
    for days, source in ((1, "oee"), (30, "oee_hourly")):
        found = _line_panels(reader, schema, days)
        assert found["shifts"] == [("qd-haier-p1", "2026-01-05", "夜班", 0.0, None,
                                    pytest.approx(30 / 32), pytest.approx(0.75), 30)]  # fmt: skip
        assert found["days"] == [("2026-01-05", pytest.approx(0.75))]
        assert found["current"] == [(None, 0, None)]  # one row, even before any window
        assert found["scans"] == [(source,)], days  # the grain by the range's length


def test_the_current_shift_against_the_target(
    migrator: psycopg.Connection, reader: psycopg.Connection, schema: str,
    windows: list[tuple[object, ...]],
) -> None:  # fmt: skip
    """A window of the line a minute ago in a 24-hour shift: planned 60 s, ideal run 30 s,
    9 of 10 good. OEE = 30/60 × 0.9 = 0.45; at the target 0.85 the 60 s at the parts' ideal
    cycle of 3 s would have made 0.85 × 60 / 3 = 17 good parts."""
    migrator.execute("UPDATE plant_calendar SET shifts = '[{\"id\": \"all_day\", "
                     "\"name\": \"全天\", \"start\": \"00:00\", \"end\": \"00:00\"}]'")  # fmt: skip
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    migrator.execute("SELECT ensure_partition('oee', %s)", (minute,))
    migrator.execute(
        "INSERT INTO oee VALUES ('line', 'qd-haier-p1-l2', %s, %s, 0, 1, 0, 0, 30, 0, 0, 0, 0, "
        "0, 60, 30, 10, 9, null, null, null, null, false)", (minute, minute + timedelta(minutes=1)),
    )  # fmt: skip
    assert _line_panels(reader, schema, 1)["current"] == [(pytest.approx(0.45), 9, 17.0)]
