"""Long ranges: every panel's SQL of the province, enterprise, line and device dashboards
over 30 days of a 1,000-device fleet.

    flock /tmp/iiot-bench.lock .venv/bin/python -m bench.dashboard_ranges [--days 30] \
        [--runs 5] [--before COMMIT]

A plain-PostgreSQL schema of its own (dropped afterwards): the registry of a 1,000-device
fleet (10 enterprises, 100 lines of 10 devices); for the measured line, samples every 5 s of
its 10 devices; 1-minute OEE windows, for the whole range, of the province, its city, the 10
enterprises and the measured enterprise's 10 lines and 100 devices (what its dashboards
read); for the other 900 devices and 90 lines one OEE window an hour, so the roll-ups hold
the whole fleet's hours (and the province's device count reads those 900 by the hour even
before). The roll-ups are refreshed as `iiot db maintain` does. Each panel's query is
expanded as Grafana sends it (Grafana's interval for the range) and run as iiot_reader, a
warm-up then `--runs` times: median and max milliseconds. With `--before`, the panels of the
three dashboards at that commit whose SQL differs are run too, back to back (peers).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import types
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from psycopg import sql

from bench import results
from dashboards import enterprise, line_device, province
from dashboards.context import Build
from dashboards.macros import TimeRange, Variable, expand
from iiot.settings import Settings
from sinks import state_rollup
from sinks.migrate import migrate
from sinks.partitions import PartitionKeeper, maintain, policies

ENTERPRISE, LINE, DEVICE = "e00", "e00-l00", "e00-l00-d0"
DASHBOARDS = {"province": province, "enterprise": enterprise, "line_device": line_device}
# Grafana's interval for ~1,000 points over the range, rounded as it rounds (30 days: 30m).
INTERVAL_S = {1: 60.0, 7: 600.0, 30: 1800.0, 90: 7200.0}

REGISTRY = """
INSERT INTO enterprise
SELECT format('e%s', lpad(e::text, 2, '0')), format('Enterprise %s', e), 'jinan', 'appliances',
       e % 2 = 0, now()
FROM generate_series(0, 9) e;
INSERT INTO device
SELECT format('e%s-l%s-d%s', lpad(e::text, 2, '0'), lpad(l::text, 2, '0'), d),
       format('e%s', lpad(e::text, 2, '0')), format('e%s-p1', lpad(e::text, 2, '0')),
       format('e%s-l%s', lpad(e::text, 2, '0'), lpad(l::text, 2, '0')),
       'injection_moulding', d < 3, d < 5, 5, 30, now()
FROM generate_series(0, 9) e, generate_series(0, 9) l, generate_series(0, 9) d;
"""
# The line's samples: each device holds a state for 5-minute blocks, mostly running; stops
# carry the simulator's reason codes.
SAMPLES = """
INSERT INTO telemetry (device_id, seq, ts, state, count_total, count_good, ideal_cycle_s,
                       product, reason, metrics)
SELECT d.device_id, s.n, %(start)s::timestamptz + s.n * INTERVAL '5 seconds', b.state,
       s.n / 6, s.n / 6 - s.n / 200, 30, 'FRIDGE-DOOR-A', b.reason,
       jsonb_build_object('power_kw', 6 + (s.n %% 7) * 0.1, 'hydraulic_bar', 180 + s.n %% 5,
                          'temperature_c', 40 + (s.n %% 11) * 0.2)
FROM device d
CROSS JOIN generate_series(0, %(samples)s - 1) s(n)
JOIN LATERAL (
    SELECT CASE WHEN r < 0.82 THEN 'running' WHEN r < 0.88 THEN 'idle'
                WHEN r < 0.92 THEN 'setup' WHEN r < 0.98 THEN 'down' ELSE 'planned_stop' END
           AS state,
           CASE WHEN r >= 0.82 AND r < 0.98
                THEN (ARRAY['breakdown', 'changeover', 'no_material', 'micro_stop'])
                     [1 + (abs(hashtext(d.device_id || (s.n / 60)::text)) %% 4)] END AS reason
    FROM (SELECT (abs(hashtext(d.device_id || ':' || (s.n / 60)::text)) %% 1000) / 1000.0
          AS r) x
) b ON true
WHERE d.line_id = %(line)s
"""
# OEE windows: 1-minute ones for the province, the city, the enterprises and the measured
# enterprise's lines and devices; hourly ones for the other lines and devices.
WINDOWS = """
INSERT INTO oee
SELECT level, entity_id, w, w + %(width)s::interval, 1, 1, 12, 0,
       45, 5, 3, 4, 2, 1, 57, 38, 90, 87, 45 / 57.0, 38 / 45.0, 87 / 90.0,
       38 / 57.0 * 87 / 90.0, false
FROM (SELECT 'device' AS level, device_id AS entity_id, enterprise_id FROM device
      UNION ALL SELECT DISTINCT 'line', line_id, enterprise_id FROM device
      UNION ALL SELECT 'enterprise', enterprise_id, NULL FROM enterprise
      UNION ALL SELECT 'city', 'jinan', NULL
      UNION ALL SELECT 'province', 'shandong', NULL) e
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - %(width)s::interval,
                           %(width)s::interval) w
WHERE COALESCE(e.enterprise_id = %(enterprise)s, true) = %(minutes)s
"""


def load_fleet(
    conn: psycopg.Connection, schema: str, start: datetime, days: int
) -> dict[str, float]:
    """The fleet, the line's samples and the windows; the roll-ups refreshed, the downtime
    roll-up's first refresh (every hour of the range) timed on its own."""
    end = start + timedelta(days=days)
    keeper = PartitionKeeper(schema, policies(conn, schema))
    for parent in ("telemetry", "oee"):
        keeper.ensure(conn, parent, [start + timedelta(days=d) for d in range(days + 1)])
    conn.execute(REGISTRY)  # type: ignore[arg-type]
    conn.execute(SAMPLES, {"start": start, "samples": days * 86400 // 5, "line": LINE})  # type: ignore[arg-type]
    for minutes, width in ((True, "1 minute"), (False, "1 hour")):
        conn.execute(WINDOWS, {"start": start, "end": end, "width": width,  # type: ignore[arg-type]
                               "enterprise": ENTERPRISE, "minutes": minutes})  # fmt: skip
    conn.execute("ANALYZE")
    began = time.perf_counter()
    state_rollup.refresh(conn, schema, end)
    counts: dict[str, float] = {"state_hourly_refresh_s": round(time.perf_counter() - began, 1)}
    maintain(conn, schema, now=end)
    conn.execute("ANALYZE")
    for table in ("telemetry", "oee", "oee_hourly", "metric_hourly", "state_hourly"):
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        counts[table] = conn.execute(query).fetchone()[0]  # type: ignore[index]
    return counts


def panels_of(name: str, module: types.ModuleType, build: Build) -> dict[str, str]:
    """Each panel's `dashboard: title` → its SQL (the first query)."""
    model = json.loads(json.dumps(module.dashboard(build).build(), cls=JSONEncoder))
    return {f"{name}: {p['title']}": p["targets"][0]["rawSql"] for p in model["panels"]}


def dashboard_at(name: str, commit: str) -> types.ModuleType:
    """dashboards/<name>.py as it was at `commit`, on today's helpers."""
    source = subprocess.run(["git", "show", f"{commit}:dashboards/{name}.py"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    module = types.ModuleType(f"{name}_{commit}")
    exec(compile(source, f"{name}@{commit}", "exec"), module.__dict__)
    return module


def timed(conn: psycopg.Connection, query: str, runs: int) -> tuple[float, float, int]:
    """Median and max milliseconds of `runs` runs after a warm-up, and the rows."""
    rows = len(conn.execute(query).fetchall())  # type: ignore[arg-type]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        conn.execute(query).fetchall()  # type: ignore[arg-type]
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, choices=sorted(INTERVAL_S), default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", help="a commit whose dashboards' panels to compare")
    args = parser.parse_args()

    settings = Settings(telemetry_retention_days=args.days + 7)  # all of the range kept
    schema = f"bench_{uuid.uuid4().hex[:6]}_ranges"
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    loads = [results.load()]
    print(f"load before: {loads[0]:.2f} (1-min avg, {os.cpu_count()} cores)")
    try:
        with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as owner:
            owner.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            assert migrate(owner, schema, settings)[0] == "plain"
            owner.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            began = time.perf_counter()
            counts = load_fleet(owner, schema, start, args.days)
            print(f"loaded in {time.perf_counter() - began:.0f} s: {counts}")
        loads.append(results.load())
        build = Build(language="en", schema=schema)
        arms = {"now": {k: v for name, module in DASHBOARDS.items()
                        for k, v in panels_of(name, module, build).items()}}  # fmt: skip
        if args.before:
            then = {name: dashboard_at(name, args.before) for name in DASHBOARDS}
            before = {k: v for name, module in then.items()
                      for k, v in panels_of(name, module, build).items()}  # fmt: skip
            arms["before"] = {k: v for k, v in before.items() if arms["now"].get(k) != v}
        variables = {"enterprise": Variable(ENTERPRISE), "plant": Variable("e00-p1"),
                     "line": Variable(LINE), "device": Variable(DEVICE)}  # fmt: skip
        time_range = TimeRange(start, end)
        figures: dict[str, dict[str, float]] = {"now": {}, "before": {}}
        with psycopg.connect(settings.pg_reader_dsn, autocommit=True) as reader:
            for arm, panels in arms.items():
                for title, raw in panels.items():
                    query = expand(raw, time_range, interval_s=INTERVAL_S[args.days],
                                   timescaledb=False, variables=variables)  # fmt: skip
                    median, most, rows = timed(reader, query, args.runs)
                    load = results.load()
                    loads.append(load)
                    figures[arm][title] = median
                    print(f"{arm:6} {title:60} median {median:9.1f} ms  max {most:9.1f} ms  "
                          f"{rows:6} rows  load {load:.2f}")  # fmt: skip
    finally:
        with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as cleanup:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            cleanup.execute(drop)
    ratios = {t: figures["now"][t] / b for t, b in figures["before"].items() if b}
    results.record(
        "bench/dashboard_ranges.py", "ms", figures["now"], figures["before"], ratios, loads,
        note=f"{args.days} days of a 1,000-device fleet: 1-minute OEE windows of the province, "
        f"city, enterprises and {ENTERPRISE}'s lines and devices, samples of line {LINE} "
        f"(10 devices at 5 s); {counts}; median of {args.runs} runs after a warm-up; peers: "
        f"the dashboards at {args.before}",
    )  # fmt: skip


if __name__ == "__main__":
    main()
