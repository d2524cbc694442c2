"""A short deterministic province run for the dashboard tests, landed as the sink lands it.

The simulator makes births and samples; the pipeline's own pure functions (iiot.oee,
streams' RollupState) make the OEE windows, roll-ups and digitization; a few alarms and
dead letters complete every view. Rows come from the sink's routes and are written with
plain INSERTs (the WASM TimescaleDB takes no COPY). Times sit just before now, so the
dashboards' default ranges and `now()`-based panels see them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from iiot.contract import decode
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Reading, device_windows, oee_window, ordered, to_ms
from iiot.results import Alarm, DeadLetter
from iiot.settings import DigitizationWeights
from iiot.topics import Topic
from simulators import Simulation, SimulationOptions
from sinks.partitions import PartitionKeeper, policies
from sinks.tables import JSONB_V1, ROUTES, TARGETS, Row, Target
from streams.rollup_state import RollupState

WINDOW_MS = 60_000
HOUR_MS = 3_600_000
CHUNK_ROWS = 50  # keeps a statement well under the 64 KB the pglite socket server takes


class FakeOrigin:
    """What the sink's row builders read of a Kafka message."""

    def __init__(self, offset: int, at: datetime) -> None:
        self.partition, self.offset, self.received_at = 0, offset, at


@dataclass
class Dataset:
    start: datetime
    end: datetime
    births: list[DeviceBirth]
    rows: dict[Target, list[Row]] = field(default_factory=lambda: defaultdict(list))
    alarm_device: str = ""

    def add(self, topic: Topic, message: Any, origin: FakeOrigin) -> None:
        for target, row in ROUTES[topic].rows(message, origin):
            self.rows[target].append(row)


def make(devices: int = 40, minutes: int = 20, start: datetime | None = None) -> Dataset:
    """The province from `start` (default: just before now, see below) for `minutes`."""
    if start is None:
        now = datetime.now(UTC)
        # Half past the hour: the simulated plants' breaks start on the hour
        # (simulators/calendar.py, the longest 30 min), so from :30 the three-shift plants
        # produce at any time of day and the OEE panels have numbers (from the hour, at 02:00
        # China time every plant stood still).
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    sim = Simulation(SimulationOptions(devices=devices, start=start, duration_s=minutes * 60))
    data = Dataset(start, start + timedelta(minutes=minutes), sim.births())
    samples: dict[str, list[Sample]] = defaultdict(list)
    for offset, record in enumerate(sim.run()):
        at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        if record.topic is Topic.REGISTRY:
            data.add(Topic.REGISTRY, decode(DeviceBirth, record.value), FakeOrigin(offset, at))
        elif record.topic is Topic.TELEMETRY and record.valid:
            sample = decode(Sample, record.value)
            samples[sample.device_id].append(sample)
            data.add(Topic.TELEMETRY, sample, FakeOrigin(offset, at))
    _windows(data, samples)
    _alarms_and_dead_letters(data)
    return data


def _windows(data: Dataset, samples: dict[str, list[Sample]]) -> None:
    state = RollupState(WINDOW_MS, HOUR_MS, DigitizationWeights())
    for birth in data.births:
        state.on_birth(birth)
    origin = FakeOrigin(0, data.end)
    for n, birth in enumerate(data.births):
        readings = ordered(Reading.of(s) for s in samples[birth.device_id])
        windows = device_windows(
            readings, window_ms=WINDOW_MS, ideal_cycle_s=birth.ideal_cycle_s,
            max_gap_ms=round(3 * birth.sample_interval_s * 1000),
        )  # fmt: skip
        for start_ms, parts in sorted(windows.windows.items()):
            late = 1 if n == 0 and start_ms == min(windows.windows) else 0  # one late sample
            window = oee_window("device", birth.device_id, start_ms, parts, late_samples=late)
            data.add(Topic.OEE, window, origin)
            state.on_device_window(birth.device_id, start_ms, parts, 0, late)
    for start_ms in sorted(state.windows):
        for window in state.rollups(start_ms):
            data.add(Topic.OEE, window, origin)
    for hour_ms in sorted(state.hours):
        for digitization in state.digitization(hour_ms):
            data.add(Topic.DIGITIZATION, digitization, origin)


def _alarms_and_dead_letters(data: Dataset) -> None:
    first, second = data.births[0].device_id, data.births[1].device_id
    data.alarm_device = first
    at = data.start + timedelta(minutes=5)
    raised = Alarm(device_id=first, kind="down_too_long", status="raised", ts=at, raised_at=at,
                   value=420.0, threshold=300.0, message="down for 7 min")  # fmt: skip
    cleared = raised.model_copy(update={"status": "cleared", "ts": at + timedelta(minutes=5)})
    still_open = raised.model_copy(update={"device_id": second, "kind": "offline"})
    for n, alarm in enumerate((raised, cleared, still_open)):
        data.add(Topic.ALARMS, alarm, FakeOrigin(n, alarm.ts))
    for n, code in enumerate(("invalid_json", "invalid_json", "future_ts")):
        letter = DeadLetter(stage="streams.ingest", code=code, reason=f"example {code}",
                            topic="iiot.telemetry", partition=0, offset=n, key=first,
                            timestamp_ms=to_ms(data.start), payload="{not json")  # fmt: skip
        data.add(Topic.DEADLETTER, letter, FakeOrigin(n, data.start + timedelta(minutes=n)))


def write(conn: psycopg.Connection, schema: str, data: Dataset) -> None:
    """INSERT every row (partitions first on plain PostgreSQL), as the writer role."""
    keeper = PartitionKeeper(schema, policies(conn, schema))
    for target in TARGETS:
        keys = [target.names.index(k) for k in target.key]
        unique = {tuple(row[i] for i in keys): row for row in data.rows.get(target, [])}
        rows = [_as_text_json(target, row) for row in unique.values()]  # one row per key
        if not rows:
            continue
        index = target.time_index()
        if index is not None:
            keeper.ensure(conn, target.table, [row[index] for row in rows])
        casts = sql.SQL(", ").join(
            sql.SQL("%s::{}").format(sql.SQL(kind)) for _, kind in target.columns
        )
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ").format(
            sql.Identifier(schema, target.table),
            sql.SQL(", ").join(map(sql.Identifier, target.names)),
        )
        for chunk in range(0, len(rows), CHUNK_ROWS):
            batch = rows[chunk : chunk + CHUNK_ROWS]
            values = sql.SQL(", ").join(sql.SQL("({})").format(casts) for _ in batch)
            conn.execute(statement + values, [v for row in batch for v in row])


def _as_text_json(target: Target, row: Row) -> Row:
    """The routes give jsonb in COPY's binary form; INSERT takes its text."""
    return tuple(
        value[len(JSONB_V1) :].decode() if kind == "jsonb" and isinstance(value, bytes) else value
        for (_, kind), value in zip(target.columns, row, strict=True)
    )
