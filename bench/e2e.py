"""End to end on this machine: `iiot simulate` → Kafka → `iiot stream` → `iiot sink` →
PostgreSQL, every part its real command in a process of its own, at a rising rate until the
pipeline falls behind.

    flock /tmp/iiot-bench.lock .venv/bin/python -m bench.e2e --records one [--hold 300]
    flock /tmp/iiot-bench.lock .venv/bin/python -m bench.e2e --records batch [--speed 60] \
        [--producer-env IIOT_PRODUCER_BATCH_MS=1000]     (batch: those are the defaults)

One pipeline per run, under a topic prefix and schema of its own (deleted afterwards, with its
consumer groups): the worker and the sink start once; each step restarts the simulator with a
larger fleet (its seqs continue through its spool, as a restarted gateway's do), lets it settle,
then holds it for --hold seconds and prints a row. A step falls behind when p99 of either
latency exceeds 5 s, fewer than 99% of its samples landed, or a consumer's lag ends the hold
above 5 s of its input and still growing. The simulator's devices sample every 2–10 s, so at speed 1
a fleet of N devices sends ~N/4 samples/s: rates are given in samples/s (= devices at 1 Hz).
Latencies (bench/e2e_parts.py): sample → telemetry row is `arrived_at − due(ts)`; sample → OEE
window row is the device window's `arrived_at` − due(the device's first sample at or after the
window's end, which closes its last interval and so makes its last revision).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import sql

from bench import e2e_parts as parts
from bench import results
from cli.demo import children
from cli.demo.probe import KafkaProbe
from iiot import kafka_admin
from iiot.kafka_security import kafka_config
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Simulation, SimulationOptions

P99_LIMIT_S = 5.0
MARGIN_S = 20.0  # rows are read this long after the last sample they measure was due
MODES = {"one": "one-sample records", "batch": "batch records"}
STEPS = {"one": "2500,5000,7500,10000,12500", "batch": "10000,20000,30000,40000"}


def fleet_rate(devices: int) -> float:
    """Samples per simulated second of the simulator's first `devices` devices."""
    births = Simulation(SimulationOptions(devices=devices)).births()
    return sum(1 / b.sample_interval_s for b in births)


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", choices=["one", "batch"], default="one")
    parser.add_argument("--steps", help="samples/s per step, rising (default per --records)")
    parser.add_argument("--speed", type=float, help="simulated s per wall s (one: 1, batch: 20)")
    parser.add_argument("--hold", type=float, default=300.0, help="wall seconds each step holds")
    parser.add_argument("--settle", type=float, default=60.0, help="wall seconds before a hold")
    parser.add_argument(
        "--producer-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="for the simulator's Publisher, e.g. its batch packing settings",
    )
    args = parser.parse_args()
    speed = args.speed or (1.0 if args.records == "one" else 60.0)
    if args.hold - MARGIN_S < 60 / speed:  # a minute of event time: every device closes a window
        parser.error(f"--hold is at least {MARGIN_S + 60 / speed:g} s at speed {speed:g}")
    steps = [float(x) for x in (args.steps or STEPS[args.records]).split(",")]
    run_id = uuid.uuid4().hex[:6]
    settings = Settings(topic_prefix=f"bench-e2e-{run_id}.", pg_schema=f"bench_e2e_{run_id}")
    pipeline = parts.Pipeline(settings)
    home = Path(tempfile.mkdtemp(prefix=f"iiot-e2e-{run_id}-"))
    env = dict(
        os.environ,
        IIOT_TOPIC_PREFIX=settings.topic_prefix,
        PYTHONUNBUFFERED="1",
        IIOT_PG_SCHEMA=settings.pg_schema,
    )
    if args.records == "batch" and not args.producer_env:  # samples wait the longest allowed
        args.producer_env = ["IIOT_PRODUCER_BATCH_MS=1000"]
    sim_env = env | dict(kv.split("=", 1) for kv in args.producer_env)
    loads = [load()]
    print(
        f"e2e run {run_id}: {MODES[args.records]}, speed {speed:g}, hold {args.hold:g} s, "
        f"settle {args.settle:g} s; logs in {home}; load {loads[0]:.2f} on {os.cpu_count()} cores"
    )
    if args.producer_env:
        print(f"simulator env: {' '.join(args.producer_env)}")
    # Event time: at speed 1 the wall clock; faster, it starts in the past so that it ends
    # within the hour ahead of the clock that Kafka accepts (the sink makes past partitions).
    planned = len(steps) * (args.settle + args.hold + 60) * speed  # simulated seconds, about
    start = min(time.time(), time.time() + 3000 - planned * (1 - 1 / speed))
    kafka_admin.ensure_topics(settings)
    running: list[children.Child] = []
    rows: list[dict] = []
    probe = KafkaProbe(pipeline)  # type: ignore[arg-type]
    db = psycopg.connect(settings.pg_reader_dsn, autocommit=True)
    try:
        children.run_to_end(
            "migrate", ["db", "migrate"], env, home, interrupted=bool, timeout_s=300
        )
        running += [
            children.start("sink", ["sink", "--no-migrate"], env, home),
            children.start("stream", ["stream"], env, home),
        ]
        held = None
        for target in steps:
            devices = max(1, round(target / (fleet_rate(1000) / 1000) / speed))
            rate = fleet_rate(devices) * speed  # samples per wall second
            simulate = ["simulate", "--devices", str(devices), "--speed", f"{speed:g}", "--quiet"]
            simulate += ["--duration", "0", "--spool", str(home / "spool.sqlite")]
            simulate += [
                "--start",
                datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            ]
            before = parts.topic_end(settings)
            sim = children.start("simulate", simulate, sim_env, home)
            running.append(sim)
            while parts.topic_end(settings) == before:  # its first birth: pacing starts there
                if not sim.running():
                    raise children.ChildFailed(sim, sim.exit_code() or 0)
                time.sleep(0.05)
            clock = parts.Clock(float(int(start)), time.time(), speed)
            time.sleep(args.settle)
            row = hold(args.hold, clock, rate, devices, running, probe, db, settings)
            loads.append(row["load"])
            rows.append(row)
            children.stop([sim])
            running.remove(sim)
            # The next run's event time follows this one's (at speed 1: the wall clock).
            start = time.time() if speed == 1 else clock.event(time.time()) + 60
            if row["behind"]:
                break
            held = row
        stored = parts.telemetry_size(db, settings.pg_schema)
        print(f"telemetry: {stored[0]:,} rows, {stored[1]:,.0f} bytes a row with its indexes")
    finally:
        children.stop(running)
        probe.close()
        db.close()
        cleanup(settings, pipeline)
        # The worker's state (streams/app.py puts it there) and the spool; the logs stay.
        shutil.rmtree(Path(tempfile.gettempdir(), "iiot-streams", pipeline.stream_group()), True)
        for spool in home.glob("spool.sqlite*"):
            spool.unlink()
    report(args, speed, rows, held, loads, stored)


def hold(hold_s, clock, rate, devices, running, probe, db, settings) -> dict:  # type: ignore[no-untyped-def]
    """One step's hold: lags every 5 s, CPU and memory over it, then the latencies."""
    sessions = {c.process.pid: c.name for c in running}
    t0, cpu0, oee0 = time.time(), parts.processes(sessions), parts.topic_end(settings, Topic.OEE)
    lags: list[tuple[float, int, int, int]] = []  # (time, published records, worker, sink)
    while time.time() < t0 + hold_s:
        for c in running:
            if not c.running():
                raise children.ChildFailed(c, c.exit_code() or 0)
        published, _, stream_lag, sink_lag = probe.read()
        lags.append((time.time(), published, stream_lag, sink_lag))
        time.sleep(5)
    t1, oee1 = time.time(), parts.topic_end(settings, Topic.OEE)
    use = parts.usage(cpu0, parts.processes(sessions), t1 - t0)
    span = (t0, t1 - MARGIN_S)  # its rows have had MARGIN_S to land
    expected = round(rate * (span[1] - span[0]))
    tel = parts.telemetry_latency(db, settings.pg_schema, clock, span, expected)
    oee = parts.window_latency(db, settings.pg_schema, clock, span)
    records_s = (lags[-1][1] - lags[0][1]) / (lags[-1][0] - lags[0][0])
    oee_s = (oee1 - oee0) / (t1 - t0)
    inputs = {"worker": (2, records_s), "sink": (3, records_s + oee_s)}  # records/s read
    growing = [
        which
        for which, (i, input_s) in inputs.items()
        if lags[-1][i] > 5 * input_s and lags[-1][i] > lags[len(lags) // 2][i]
    ]
    slow = [
        name
        for name, (_, _, p99, _) in (("telemetry", tel), ("OEE", oee))
        if p99 is None or p99 > P99_LIMIT_S
    ]
    short = tel[0] < 0.99 * expected
    row = {
        "devices": devices,
        "samples_s": rate,
        "records_s": records_s,
        "oee_s": oee_s,
        "telemetry": tel,
        "oee": oee,
        "lag_worker": lags[-1][2],
        "lag_sink": lags[-1][3],
        "use": use,
        "load": load(),
        "behind": growing + slow + (["samples missing"] if short else []),
    }
    print_row(row, expected)
    return row


def ms(value: float | None) -> str:
    return "—" if value is None else f"{1000 * value:,.0f}"


def print_row(row: dict, expected: int) -> None:
    tel, oee = row["telemetry"], row["oee"]
    print(
        f"\n{row['devices']:,} devices: {row['samples_s']:,.0f} samples/s in "
        f"{row['records_s']:,.0f} records/s, {row['oee_s']:,.0f} OEE records/s out; "
        f"load {row['load']:.2f}"
    )
    print(
        f"  sample→telemetry row ms p50/p99/max {ms(tel[1])}/{ms(tel[2])}/{ms(tel[3])} "
        f"({tel[0]:,} of ~{expected:,} samples)"
    )
    print(
        f"  sample→OEE window row ms p50/p99/max {ms(oee[1])}/{ms(oee[2])}/{ms(oee[3])} "
        f"({oee[0]:,} windows)"
    )
    print(f"  lag at the end (records): worker {row['lag_worker']:,}, sink {row['lag_sink']:,}")
    print("  CPU (% of a core), memory: " + "; ".join(f"{k} {v}" for k, v in row["use"].items()))
    print(f"  {'BEHIND: ' + ', '.join(row['behind']) if row['behind'] else 'held'}", flush=True)


def cleanup(settings: Settings, pipeline: parts.Pipeline) -> None:
    """Exactly what the run made: its topics (the worker's changelogs share the prefix), its
    two consumer groups, its schema."""
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    admin = AdminClient(kafka_config(settings))
    for future in admin.delete_consumer_groups(
        [pipeline.stream_group(), pipeline.sink_group()]
    ).values():
        with contextlib.suppress(Exception):  # a group Kafka already dropped
            future.result(timeout=30)
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as owner:
        owner.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.pg_schema))
        )


def report(
    args: argparse.Namespace,
    speed: float,
    rows: list[dict],
    held: dict | None,
    loads: list[float],
    stored: tuple[int, float],
) -> None:
    mode = MODES[args.records]
    top = held["samples_s"] if held else 0.0
    print(
        f"\nhighest rate held for {args.hold:g} s, {mode} at speed {speed:g}: {top:,.0f} samples/s"
        + (f" ({held['devices']:,} devices)" if held else "")
        + f"; load {load():.2f}"
    )
    figures = {f"held, {mode} (samples/s)": top}
    if held:
        figures |= {
            "p99 sample→telemetry row (ms)": 1000 * held["telemetry"][2],
            "p99 sample→OEE window row (ms)": 1000 * held["oee"][2],
        }
    steps = "; ".join(map(step_line, rows))
    note = (
        f"speed {speed:g}, hold {args.hold:g} s, env {' '.join(args.producer_env) or '-'}, "
        f"telemetry {stored[1]:.0f} B/row on disk; {steps}"
    )
    results.record("bench/e2e.py", "samples/s, ms", figures=figures, loads=loads, note=note)


def step_line(r: dict) -> str:
    """A step in one line, for the run's note."""
    tel, oee, use = ms(r["telemetry"][2]), ms(r["oee"][2]), r["use"].items()
    return (
        f"{r['devices']} devices {r['samples_s']:.0f} samples/s in {r['records_s']:.0f} "
        f"records/s, {r['oee_s']:.0f} OEE records/s out: p99 {tel}/{oee} ms, "
        f"lag {r['lag_worker']}/{r['lag_sink']}, {', '.join(f'{k} {v}' for k, v in use)}"
        f"{' BEHIND ' + ','.join(r['behind']) if r['behind'] else ''}, load {r['load']:.2f}"
    )


if __name__ == "__main__":
    main()
