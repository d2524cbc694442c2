"""What bench/e2e.py reads from outside the pipeline: Kafka's offsets, CPU and memory of each
process from /proc, and the latencies from the database's `arrived_at` columns (migration 0007).

Due time: when the simulator's pacing hands a sample to the Publisher — `wall0 + (ts −
start) / speed`, `wall0` being when its first record (a birth) reached Kafka. At speed 1 this
is the sample's `ts` moved by the simulator's start-up, so the latency is the pipeline's, not
the time the province took to build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

from iiot import topics
from iiot.kafka_security import kafka_config
from iiot.settings import Settings
from iiot.topics import Topic

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Pipeline:
    """What cli.demo.probe.KafkaProbe asks of a run: its settings and consumer groups."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.topic_prefix = settings, settings.topic_prefix

    def run_settings(self) -> Settings:
        return self.settings

    def stream_group(self) -> str:
        return f"{self.topic_prefix}iiot-streams"  # the Faust app id

    def sink_group(self) -> str:
        return f"{self.topic_prefix}{self.settings.sink_group}"


def topic_end(settings: Settings, topic: Topic = Topic.REGISTRY) -> int:
    """Records written to `topic` so far (the sum of its partitions' high watermarks)."""
    consumer = Consumer({**kafka_config(settings), "group.id": "e2e-watch"})
    name = topics.name(topic, settings)
    meta = consumer.list_topics(name, timeout=10).topics[name].partitions
    ends = [consumer.get_watermark_offsets(TopicPartition(name, p), cached=False)[1] for p in meta]
    consumer.close()
    return sum(ends)


@dataclass(frozen=True)
class Proc:
    role: str
    cpu_s: float  # user + system, since the process started
    rss: int  # bytes
    pss: int  # bytes: shared pages split among their users (PostgreSQL's shared buffers)


def _stat(pid: str) -> tuple[str, int, float, int] | None:
    """(comm, session id, CPU seconds, RSS bytes) of a process; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
    f = rest.split()  # f[0] is field 3 (state) of proc(5)
    return comm, int(f[3]), (int(f[11]) + int(f[12])) / TICK, int(f[21]) * PAGE


def _pss(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def processes(sessions: dict[int, str]) -> dict[int, Proc]:
    """Every process of the pipeline: those in the sessions of our children (each `iiot …`
    leads a session of its own, so a child's children count with it), the Kafka broker's
    JVM, and every PostgreSQL process (the server is shared: other users' work counts too)."""
    found: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (stat := _stat(entry)) is None:
            continue
        comm, session, cpu_s, rss = stat
        role = sessions.get(session)
        if role is None and comm == "postgres":
            role = "PostgreSQL"
        if role is None and comm == "java":
            try:
                if b"kafka.Kafka" in Path(f"/proc/{entry}/cmdline").read_bytes():
                    role = "Kafka"
            except OSError:
                continue
        if role is not None:
            found[int(entry)] = Proc(role, cpu_s, rss, _pss(entry))
    return found


def usage(before: dict[int, Proc], after: dict[int, Proc], seconds: float) -> dict[str, str]:
    """Per role: % of one core over the span (processes alive at both ends), and memory at
    its end: RSS, or the sum of PSS for PostgreSQL (its backends share the buffers)."""
    cpu: dict[str, float] = {}
    memory: dict[str, int] = {}
    for pid, proc in after.items():
        if pid in before:
            cpu[proc.role] = cpu.get(proc.role, 0.0) + proc.cpu_s - before[pid].cpu_s
        size = proc.pss if proc.role == "PostgreSQL" else proc.rss
        memory[proc.role] = memory.get(proc.role, 0) + size
    return {
        role: f"{100 * cpu.get(role, 0.0) / seconds:.0f}% {memory[role] / 2**20:,.0f} MiB"
        for role in sorted(memory)
    }


@dataclass(frozen=True)
class Clock:
    """One simulator run's pacing: event time `start` was due at wall time `wall0`."""

    start: float  # epoch seconds
    wall0: float  # epoch seconds
    speed: float

    def event(self, wall: float) -> float:
        return self.start + (wall - self.wall0) * self.speed


def _percentiles(conn: psycopg.Connection, query: sql.Composable, args: dict) -> tuple:
    """(rows, p50, p99, max) in seconds of the latencies `query` selects as `lat`; p99 over
    the rows there and `missing` more taken as later than any (None when over 1% missing)."""
    present = sql.SQL("SELECT count(*) FROM ({}) q").format(query)
    (rows,) = conn.execute(present, args).fetchone()
    if not rows:
        return 0, None, None, None
    q99 = 0.99 * (rows + args["missing"]) / rows
    stats = sql.SQL(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lat), "
        "percentile_cont(%(q)s) WITHIN GROUP (ORDER BY lat), max(lat) FROM ({}) q"
    ).format(query)
    p50, p99, top = conn.execute(stats, {**args, "q": min(q99, 1.0)}).fetchone()
    return rows, p50, p99 if q99 <= 1.0 else None, top


DUE = "(%(wall0)s + (extract(epoch FROM {ts}) - %(start)s) / %(speed)s)"


def telemetry_latency(
    conn: psycopg.Connection, schema: str, clock: Clock, span: tuple[float, float], expected: int
) -> tuple:
    """sample → telemetry row: `arrived_at − due(ts)` of the samples due in `span` (wall)."""
    args = {"wall0": clock.wall0, "start": clock.start, "speed": clock.speed}
    args |= {"a": clock.event(span[0]), "b": clock.event(span[1])}
    (rows,) = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {} WHERE ts >= to_timestamp(%(a)s) AND ts < to_timestamp(%(b)s)"
        ).format(sql.Identifier(schema, "telemetry")),
        args,
    ).fetchone()
    query = sql.SQL(
        "SELECT extract(epoch FROM arrived_at) - " + DUE.format(ts="ts") + " AS lat FROM {} "
        "WHERE ts >= to_timestamp(%(a)s) AND ts < to_timestamp(%(b)s)"
    ).format(sql.Identifier(schema, "telemetry"))
    return _percentiles(conn, query, {**args, "missing": max(0, expected - rows)})


def window_latency(
    conn: psycopg.Connection, schema: str, clock: Clock, span: tuple[float, float]
) -> tuple:
    """sample → OEE window row, per device window: its row's `arrived_at` (a higher revision
    replaces the row and its arrival) − due(the device's first sample at or after the
    window's end), for windows whose closing sample was due in `span`."""
    args = {"wall0": clock.wall0, "start": clock.start, "speed": clock.speed, "missing": 0}
    args |= {"a": clock.event(span[0]), "b": clock.event(span[1])}
    query = sql.SQL(
        "SELECT extract(epoch FROM o.arrived_at) - " + DUE.format(ts="c.ts") + " AS lat "
        "FROM {oee} o CROSS JOIN LATERAL (SELECT t.ts FROM {tel} t WHERE t.device_id = "
        "o.entity_id AND t.ts >= o.window_end ORDER BY t.ts LIMIT 1) c "
        "WHERE o.level = 'device' AND o.window_end >= to_timestamp(%(a)s) - interval '1 minute' "
        "AND o.window_end < to_timestamp(%(b)s) "
        "AND c.ts >= to_timestamp(%(a)s) AND c.ts < to_timestamp(%(b)s)"
    ).format(oee=sql.Identifier(schema, "oee"), tel=sql.Identifier(schema, "telemetry"))
    return _percentiles(conn, query, args)


def telemetry_size(conn: psycopg.Connection, schema: str) -> tuple[int, float]:
    """Rows in `telemetry` and its bytes per row on disk, indexes included (the partitions of
    plain PostgreSQL, or the table itself)."""
    table = sql.Identifier(schema, "telemetry")
    (rows,) = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    (size,) = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) "
        "+ pg_total_relation_size(%(t)s::regclass) FROM pg_inherits "
        "WHERE inhparent = %(t)s::regclass",
        {"t": f'"{schema}".telemetry'},
    ).fetchone()
    return rows, size / rows if rows else float("nan")
