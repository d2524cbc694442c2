"""The loss waterfall and the Andon wallboard on hand-written rows, as iiot_reader on plain
PostgreSQL and on the WASM TimescaleDB: the waterfall panels give the steps of
`iiot.losses.loss_waterfall` and add up to planned time; the Andon tiles give each line's most
urgent state, its stop reason and its OEE: the current shift's so far, or the last hour's
where the plant has no shift calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dashboards.catalog import Json, render_all
from dashboards.context import Build
from dashboards.losses import KINDS, STEPS
from dashboards.macros import TimeRange, Variable, expand
from iiot.losses import LOSS_KEYS, loss_waterfall
from iiot.settings import Settings
from sinks.migrate import migrate
from tests.integration.pglite_server import become_reader, pglite_timescaledb

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
RANGE = TimeRange(T0, T0 + timedelta(minutes=2))
ENTERPRISE, PLANT, LINE = "qd-w", "qd-w-p1", "qd-w-p1-l1"
VARIABLES = {"enterprise": Variable(ENTERPRISE), "plant": Variable(PLANT), "line": Variable(LINE)}
PARTS = ("run_s", "idle_s", "setup_s", "down_s", "planned_stop_s", "unknown_s", "planned_s",
         "ideal_run_s", "count_total", "count_good")  # fmt: skip
# Two line windows. 08:00: the worked example of docs/kpi.md (30 s running, 15 s down, 15 s
# planned stop; 3 parts at 8 s, 1 bad). 08:01: 40 s running, 10 idle, 5 setup, 5 down; 6 parts
# at 6 s, all good. Sums: planned 105 = down 20 + setup 5 + idle 10 + run 70; ideal run 60,
# 8 good of 9: speed 10, quality 60/9, fully productive 480/9 (OEE 0.508).
LINE_WINDOWS = [
    (0, dict(zip(PARTS, (30, 0, 0, 15, 15, 0, 45, 24, 3, 2), strict=True))),
    (1, dict(zip(PARTS, (40, 10, 5, 5, 0, 0, 60, 36, 6, 6), strict=True))),
]
LINE_STEPS = {"planned": (105, 0), "down": (20, 85), "setup": (5, 80), "idle": (10, 70),
              "run": (70, 0), "speed": (10, 60), "quality": (60 / 9, 480 / 9),
              "fully_productive": (480 / 9, 0)}  # fmt: skip
# The enterprise's one window runs faster than ideal (P = 1.25): no negative speed loss.
ENTERPRISE_WINDOWS = [(0, dict(zip(PARTS, (60, 0, 0, 0, 0, 0, 60, 75, 5, 5), strict=True)))]

# Plant 2 has a shift calendar: 08:00 UTC is 16:00 in Shanghai, so at the range's end,
# 08:02, its 中班 (16:00–24:00 local) has run since 08:00 UTC. Plant 1 has none.
PLANT2 = "qd-w-p2"
CALENDAR = {"time_zone": "Asia/Shanghai", "shifts": [
    {"id": "early", "name": "早班", "start": "08:00", "end": "16:00"},
    {"id": "middle", "name": "中班", "start": "16:00", "end": "00:00"},
    {"id": "night", "name": "夜班", "start": "00:00", "end": "08:00"},
]}  # fmt: skip
# Line windows outside the tiles' time: plant 1's line 2 ran at 06:50, before the last hour;
# plant 2's line 1 at 07:59 (早班: the shift before) and at 08:00 the day before (yesterday's
# 中班). Inside: its 08:00 (45 s run, 15 setup; 4 parts at 7.5 s, 1 bad) and 08:01 (60 s
# run; 5 parts at 10 s, all good): planned 120, ideal run 80, 8 good of 9, OEE
# 80 × 8/9 / 120 = 16/27 (not the windows' mean OEE, (0.375 + 0.833) / 2 = 0.604).
SHIFT_WINDOWS = {
    "qd-w-p1-l2": [(-70, dict(zip(PARTS, (60, 0, 0, 0, 0, 0, 60, 60, 6, 6), strict=True)))],
    "qd-w-p2-l1": [
        (-1, dict(zip(PARTS, (60, 0, 0, 0, 0, 0, 60, 60, 10, 10), strict=True))),
        (-1440, dict(zip(PARTS, (0, 0, 0, 60, 0, 0, 60, 0, 0, 0), strict=True))),
        (0, dict(zip(PARTS, (45, 0, 15, 0, 0, 0, 60, 30, 4, 3), strict=True))),
        (1, dict(zip(PARTS, (60, 0, 0, 0, 0, 0, 60, 50, 5, 5), strict=True))),
    ],
}

# The Andon at 08:02:00, the range's end. (plant, line, device, sample interval, samples as
# (seconds from 08:00, state, reason)); a sample holds 3 intervals.
DEVICES = [
    (PLANT, LINE, "qd-w-p1-l1-m01", 5, [(110, "running", None), (115, "down", "breakdown")]),
    (PLANT, LINE, "qd-w-p1-l1-m02", 10, [(110, "idle", "no_material"), (150, "setup", None)]),
    (PLANT, LINE, "qd-w-p1-l1-m03", 5, [(60, "running", None)]),  # held to 08:01:15: offline
    (PLANT, "qd-w-p1-l2", "qd-w-p1-l2-m01", 10, [(105, "running", None)]),
    (PLANT, "qd-w-p1-l2", "qd-w-p1-l2-m02", 10, [(100, "planned_stop", "planned_maintenance")]),
    (PLANT, "qd-w-p1-l3", "qd-w-p1-l3-m01", 10, [(-3600, "running", None)]),
    (PLANT2, "qd-w-p2-l1", "qd-w-p2-l1-m01", 10, [(110, "running", None)]),
    (PLANT2, "qd-w-p2-l2", "qd-w-p2-l2-m01", 10, [(100, "idle", "no_material")]),
]
# (plant, line): (state, OEE, shift, reason). Plant 1, no calendar: the last hour's OEE.
# Line 1: down beats idle and offline, its reason is the down device's; OEE of its two
# windows (480/9 / 105). Line 2: running beats a planned stop, no reason; no window in the
# last hour. Line 3: no sample within 30 s: offline. (The setup sample at 08:02:30 is after
# the range.) Plant 2: its line 1 in 中班 so far; its line 2 has no window in the shift yet.
TILES = {
    (PLANT, LINE): ("down", 480 / 9 / 105, "Last hour", "breakdown"),
    (PLANT, "qd-w-p1-l2"): ("running", None, "Last hour", None),
    (PLANT, "qd-w-p1-l3"): ("offline", None, "Last hour", None),
    (PLANT2, "qd-w-p2-l1"): ("running", 16 / 27, "中班", None),
    (PLANT2, "qd-w-p2-l2"): ("idle", None, None, "no_material"),
}


def insert_hand_case(conn: psycopg.Connection, *, plain: bool) -> None:
    """The windows, registry and samples above, into the schema on the search path."""
    if plain:
        conn.execute("SELECT ensure_partition('telemetry', %s)", (T0,))
    entities = [("line", LINE, LINE_WINDOWS), ("enterprise", ENTERPRISE, ENTERPRISE_WINDOWS),
                *(("line", line, windows) for line, windows in SHIFT_WINDOWS.items())]  # fmt: skip
    for level, entity, windows in entities:
        for minute, parts in windows:
            start = T0 + timedelta(minutes=minute)
            if plain:
                conn.execute("SELECT ensure_partition('oee', %s)", (start,))
            conn.execute(
                "INSERT INTO oee (level, entity_id, window_start, window_end, revision, devices, "
                f"samples, late_samples, {', '.join(PARTS)}, performance_suspect) VALUES "
                f"(%s, %s, %s, %s, 0, 1, 1, 0, {', '.join(['%s'] * len(PARTS))}, false)",
                (level, entity, start, start + timedelta(minutes=1), *parts.values()),
            )
    conn.execute(
        "INSERT INTO enterprise VALUES (%s, 'W', 'qingdao', 'machinery', true, %s)",
        (ENTERPRISE, T0),
    )
    conn.execute(
        "INSERT INTO plant_calendar (plant_id, time_zone, shifts, announced_at) "
        "VALUES (%s, %s, %s, %s)",
        (PLANT2, CALENDAR["time_zone"], Jsonb(CALENDAR["shifts"]), T0),
    )
    for seq, (plant, line, device, interval, samples) in enumerate(DEVICES):
        conn.execute(
            "INSERT INTO device VALUES (%s, %s, %s, %s, 'press', true, true, %s, 10, %s)",
            (device, ENTERPRISE, plant, line, interval, T0),
        )
        for at, state, reason in samples:
            conn.execute(
                "INSERT INTO telemetry (device_id, seq, ts, state, count_total, count_good, "
                "reason) VALUES (%s, %s, %s, %s, 0, 0, %s)",
                (device, seq, T0 + timedelta(seconds=at), state, reason),
            )


def _panel_rows(
    conn: psycopg.Connection,
    dashboard: Json,
    title: str,
    variables: dict[str, Variable] = VARIABLES,
    *,
    timescaledb: bool,
) -> list[tuple[object, ...]]:
    (panel,) = [p for p in dashboard["panels"] if p["title"] == title]  # type: ignore[union-attr]
    sql = expand(panel["targets"][0]["rawSql"], RANGE, interval_s=60, timescaledb=timescaledb,
                 variables=variables)  # fmt: skip
    return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def _expected(windows: list[tuple[int, dict[str, float]]]) -> list[tuple[object, ...]]:
    """loss_waterfall of the summed parts, as the panel's rows: (step, base, then the step's
    seconds in its kind's column)."""
    sums = {name: sum(parts[name] for _, parts in windows) for name in PARTS}
    columns = list(dict.fromkeys(KINDS.values()))
    return [
        (STEPS[s.key].en, pytest.approx(s.start),
         *(pytest.approx(s.seconds) if KINDS[s.key] == c else None for c in columns))
        for s in loss_waterfall(sums)
    ]  # fmt: skip


def check_hand_case(conn: psycopg.Connection, schema: str, *, timescaledb: bool) -> None:
    """The waterfall panels and the Andon tiles give the numbers worked out above."""
    dashboards = render_all(Build(language="en", schema=schema, timescaledb=timescaledb))
    ts = {"timescaledb": timescaledb}
    line = _panel_rows(conn, dashboards["iiot-line-device"],
                       "Line loss waterfall: the six big losses", **ts)  # fmt: skip
    assert line == _expected(LINE_WINDOWS)
    seconds = {key: next(v for v in row[2:] if v is not None)
               for key, row in zip(STEPS, line, strict=True)}  # fmt: skip
    assert {k: (seconds[k], row[1]) for k, row in zip(STEPS, line, strict=True)} == {
        k: (pytest.approx(s), pytest.approx(b)) for k, (s, b) in LINE_STEPS.items()
    }
    # The parts add up to planned time: the losses and the fully productive time.
    total = sum(seconds[k] for k in LOSS_KEYS) + seconds["fully_productive"]  # type: ignore[misc]
    assert total == pytest.approx(105)
    enterprise = _panel_rows(conn, dashboards["iiot-enterprise"],
                             "Loss waterfall: the six big losses", **ts)  # fmt: skip
    assert enterprise == _expected(ENTERPRISE_WINDOWS)
    speed = enterprise[5]  # step, base_s, time_s, availability_, performance_, quality_loss_s
    assert speed[:2] == ("Speed: reduced speed", 60) and speed[4] == 0
    # A line without windows in the range has no bars (Grafana says "No data").
    empty = {**VARIABLES, "line": Variable("qd-w-p1-l2")}
    assert _panel_rows(conn, dashboards["iiot-line-device"],
                       "Line loss waterfall: the six big losses", empty, **ts) == []  # fmt: skip
    for (plant, tile_line), (state, oee, shift, reason) in TILES.items():
        variables = {**VARIABLES, "plant": Variable(plant),
                     "line": Variable(tile_line, multi=True, include_all=True)}  # fmt: skip
        rows = _panel_rows(conn, dashboards["iiot-andon"], "${line}", variables, **ts)
        assert rows == [(state, pytest.approx(oee), shift, reason)], tile_line


def test_hand_case_on_plain_postgresql(
    migrator: psycopg.Connection,
    reader: psycopg.Connection,
    settings: Settings,
    schemas: Callable[[str], str],
) -> None:
    schema = schemas("losses")
    assert migrate(migrator, schema, settings)[0] == "plain"
    migrator.execute(f"SET search_path TO {schema}")
    insert_hand_case(migrator, plain=True)
    check_hand_case(reader, schema, timescaledb=False)


def test_hand_case_on_timescaledb() -> None:
    schema = "iiot"
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate(conn, schema, Settings())[0] == "timescaledb"
        conn.execute(f"SET search_path TO {schema}")
        insert_hand_case(conn, plain=False)
        become_reader(conn, schema)  # Grafana's read-only role
        check_hand_case(conn, schema, timescaledb=True)
