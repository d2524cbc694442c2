"""One run of the whole pipeline for the fault matrix: `iiot simulate`, `iiot stream` and
`iiot sink` as separate processes, as `iiot demo` runs them (cli/demo/), on topics and a
schema of the run's own; a scenario kills, stops and restarts things while it runs.

Every run publishes the same simulated stream (GOOD_STREAM), so one run without a fault is
the baseline of all of them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import psycopg
from psycopg import sql

from cli.demo import children
from cli.demo.children import Child
from cli.demo.command import Drain
from cli.demo.probe import Probe, Reading
from iiot import kafka_admin
from iiot.settings import Settings
from sinks.migrate import migrate

# Yesterday 00:30 UTC (08:30 in Shandong), fixed for the session: recent, since Kafka stamps
# records with their event time and drops telemetry older than its 7-day retention (a fixed
# date would lose the log under a replaying worker or sink as the days go by); on the half
# hour, since the simulated breaks begin on the hour.
START = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), clock(0, 30), UTC)

# The good input of every scenario: 24 devices (4 enterprises, 4 cities), two factory
# hours at 60× (120 wall seconds, so a 60 s outage falls inside the run), with the
# simulator's own faults that are valid input (duplicates, out-of-order and late samples,
# gaps, counter resets) and malformed records, so dead letters flow.
GOOD_STREAM = {
    "devices": 24,
    "seed": 12,
    "start": START.strftime("%Y-%m-%dT%H:%M:%S"),
    "duration_s": 7200,
    "speed": 60,
    "faults": "malformed=0.0005,duplicate=0.001,out_of_order=0.001,late=0.0005,gap=0.0002,"
    "counter_reset=0.0005",
}
PUBLISH_WALL_S = GOOD_STREAM["duration_s"] / GOOD_STREAM["speed"]
EMIT_INTERVAL_S = 5.0  # as the demo's (cli/demo/plan.py)
SETTLE_TIMEOUT_S = 600.0  # the whole drain, at most


@dataclass(frozen=True)
class Names:
    """What cli.demo.probe reads of a run (it takes a DemoPlan; these are the same names)."""

    settings: Settings  # the run's: prefix, schema, where Kafka and PostgreSQL are

    @property
    def topic_prefix(self) -> str:
        return self.settings.topic_prefix

    @property
    def schema(self) -> str:
        return self.settings.pg_schema

    def run_settings(self) -> Settings:
        return self.settings

    def stream_group(self) -> str:
        return f"{self.topic_prefix}iiot-streams"

    def sink_group(self) -> str:
        return f"{self.topic_prefix}{self.settings.sink_group}"


@dataclass
class Run:
    """The processes of one run, its timeline and what became of them."""

    name: str
    settings: Settings
    home: Path  # logs, the producer's spool
    parts: dict[str, Child] = field(default_factory=dict)
    started: float = 0.0
    events: list[str] = field(default_factory=list)  # what the scenario did, and when
    crashes: list[str] = field(default_factory=list)  # parts that exited on their own
    # Their logs' last lines: CI's clone, and its .faults/runs, is gone when a run is read.
    crash_logs: dict[str, list[str]] = field(default_factory=dict)
    simulator: dict | None = None  # `iiot simulate --json`'s summary
    drained: bool = False
    duration_s: float = 0.0

    # -- setup ---------------------------------------------------------------------------

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        kafka_admin.ensure_topics(self.settings, timeout_s=30)
        with psycopg.connect(self.settings.pg_migrator_dsn, autocommit=True) as conn:
            migrate(conn, self.settings.pg_schema, self.settings)

    def env(self) -> dict[str, str]:
        s = self.settings
        return dict(os.environ) | {
            "IIOT_TOPIC_PREFIX": s.topic_prefix,
            "IIOT_PG_SCHEMA": s.pg_schema,
            "IIOT_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "IIOT_PG_MIGRATOR_DSN": s.pg_migrator_dsn,
            "IIOT_PG_WRITER_DSN": s.pg_writer_dsn,
            "IIOT_PG_READER_DSN": s.pg_reader_dsn,
            "IIOT_SPOOL_PATH": str(self.home / "spool.sqlite"),
            "IIOT_STREAM_EMIT_INTERVAL_S": f"{EMIT_INTERVAL_S:g}",
            "F_DATADIR": str(self.home / "stream-data"),
            "PYTHONUNBUFFERED": "1",
        }

    # -- parts ---------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start a part by its name: `sink`, `stream` (or `stream-b`, a second worker),
        `simulate`; a restarted part writes on in the same log."""
        if name.startswith("stream"):
            args = ["stream", "--loglevel", "info"]
        elif name == "sink":
            args = ["sink", "--no-migrate"]
        else:
            g = GOOD_STREAM
            args = ["simulate", "--devices", str(g["devices"]), "--seed", str(g["seed"])]
            args += ["--start", str(g["start"]), "--duration", str(g["duration_s"])]
            args += ["--speed", str(g["speed"]), "--fault", str(g["faults"]), "--json"]
            args += ["--spool", str(self.home / "spool.sqlite")]
            # The whole fleet, no reporting gaps: a device silent for minutes alone in its
            # partition would meet the future guard (docs/kpi.md) in the fault-free run too.
            args += ["--every-device-reports"]
        self.parts[name] = children.start(name, args, self.env(), self.home)
        if self.started:
            self.note(f"{name} started")

    def kill(self, name: str) -> None:
        """SIGKILL: no flush, no commit, no goodbye."""
        child = self.parts[name]
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
        self.note(f"{name} SIGKILLed")

    def note(self, what: str) -> None:
        self.events.append(f"{self.elapsed():.0f} s: {what}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.started else 0.0

    def check(self) -> bool:
        """True once the simulator is done; a stream worker or sink that exited on its own is
        a crash, noted once (it stays down: restarting it would hide the crash)."""
        done = False
        for name, child in self.parts.items():
            code = child.exit_code()
            if code is None or code == -signal.SIGKILL:
                continue
            if name == "simulate":
                done = True
                if self.simulator is None:
                    self.simulator = _last_json(child.log)
                    if code != 0:
                        self.crashes.append(f"simulate exited {code} at {self.elapsed():.0f} s")
            elif not any(c.startswith(f"{name} ") for c in self.crashes):
                self.crashes.append(f"{name} exited {code} at {self.elapsed():.0f} s")
                self.crash_logs[name] = children.tail(child.log, 30)
        return done

    def wait_until(self, wall_s: float) -> None:
        """Sleep until `wall_s` after the start, watching the parts."""
        while self.elapsed() < wall_s:
            self.check()
            time.sleep(0.2)

    # -- the run -------------------------------------------------------------------------

    def run(self, scenario: Callable[[Run], None] | None = None, workers: int = 1) -> None:
        """Start everything, let `scenario` do its faults, wait until all has landed."""
        began = time.monotonic()
        self.start("sink")
        for worker in ["stream", "stream-b"][:workers]:
            self.start(worker)
        self.started = time.monotonic()
        self.start("simulate")
        try:
            if scenario is not None:
                scenario(self)
            self.settle()
        finally:
            self.stop()
            self.duration_s = time.monotonic() - began

    def settle(self) -> None:
        """Until the simulator is done and nothing is behind or moving (iiot demo's Drain)."""
        probe = Probe(Names(self.settings))  # type: ignore[arg-type]
        drain: Drain | None = None
        deadline = time.monotonic() + SETTLE_TIMEOUT_S + PUBLISH_WALL_S
        try:
            while time.monotonic() < deadline:
                if drain is None and self.check():
                    drain = Drain(quiet_s=2 * EMIT_INTERVAL_S + 5)
                reading: Reading | None = probe.read()
                verdict = drain.verdict(reading) if drain else None
                if verdict is not None:
                    self.drained = verdict == "drained"
                    self.note(f"{verdict}: {reading}")
                    return
                time.sleep(1.0)
            self.note("gave up waiting for the drain")
        finally:
            probe.close()

    def stop(self) -> None:
        self.check()
        running = [c for c in self.parts.values() if c.running()]
        children.stop(running)


# What a stream worker's log says about a run that went wrong without a crash: its warnings
# and its partitions moving, without the broker-away lines an outage repeats.
NOTABLE = re.compile(r"\[(WARNING|ERROR|CRITICAL)\]|_on_partitions_assigned|reading again")
NOISE = re.compile(r"Unable (connect|to update)|Failed fetch|Coordinator Request|error produce")


def notable_lines(log: Path, most: int = 40) -> list[str]:
    """The log's notable lines, each message once (the first time), at most `most`."""
    seen: set[str] = set()
    found = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if not NOTABLE.search(line) or NOISE.search(line):
            continue
        message = line.split("] ", 3)[-1]  # without time and process
        if message not in seen:
            seen.add(message)
            found.append(line)
    return found[:most]


def _last_json(log: Path) -> dict | None:
    for line in reversed(children.tail(log, 5)):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def discard(settings: Settings) -> None:
    """Drop a run's schema and topics (its consumer groups go with the topics). Best effort:
    a private service may be gone already, and this must not hide why a run failed."""
    try:
        dsn = settings.pg_migrator_dsn  # the schema's owner
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            schema = sql.Identifier(settings.pg_schema)
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
    except psycopg.Error as exc:
        print(f"could not drop schema {settings.pg_schema}: {exc}")
    try:
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    except Exception as exc:
        print(f"could not delete topics {settings.topic_prefix}*: {exc}")
