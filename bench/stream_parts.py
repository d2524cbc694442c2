"""Where the stream worker's own time goes: its per-record work without Kafka or Faust.

    .venv-bench/bin/python -m bench.stream_parts [--devices 2000] [--samples 200000]
        [--tick 10000] [--emit-every 1] [--profile PATH]

The simulated samples of bench/stream_worker.py (seed 3, births first) go through the real
device path of `iiot stream` (`create_app(...).device_path`: `take` per record, `write` per
batch, `emit` on the timer) with light stand-ins for what Faust would hand over: an event
with the record's topic, partition (CRC32 of the key, as librdkafka's default partitioner),
offset and timestamp, and a producer whose `send` only counts. A batch is written every
`--tick` records and the emit timer runs right after it (the worker does both on its 1 s
timer; at ~10,000 samples/s that is every ~10,000 records); `--emit-every N` runs the emit
after every Nth batch only (and after the last), to measure what emitting less often saves.

Printed, µs per sample of this process's CPU time (a busy machine slows it less than
wall time; nothing here waits):

- the real path: `take` (everything per record), batch writes (`write`: state dumps and
  sends) and window emits (`emit`), and their total: what is ours in the worker;
- then each part of `take` alone on the same samples, in order: parse + validate (what the
  worker decodes a record with), state accept (`Reading` and `DeviceState.accept` with each
  device's config), alarms (`AlarmState.on_reading` and the before/after comparison).

Not a test: it prints numbers. `--profile PATH` writes cProfile stats of the real path.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import time
import zlib
from dataclasses import dataclass

from bench import results
from iiot import native, topics
from iiot.oee import Reading
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Simulation, SimulationOptions
from streams.alarms import AlarmRules, AlarmState
from streams.app import create_app
from streams.batch import Batch
from streams.device_state import DeviceConfig, DeviceState
from streams.ingest import Source, read_birth, read_sample

try:
    from streams.ingest import fast_reading
except ImportError:  # the worker before its fast path: the harness measures both
    fast_reading = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class Event:
    """What `take` reads of a Faust event."""

    message: Message
    key: bytes
    value: bytes


class Producer:
    """Takes the sends of a batch write or an emit, and only counts them."""

    def __init__(self) -> None:
        self.records = self.bytes = 0

    async def send(self, topic, key, value, partition, timestamp, headers) -> asyncio.Future:
        self.records += 1
        self.bytes += len(value or b"")
        delivered = asyncio.get_running_loop().create_future()  # as the broker confirmed it
        delivered.set_result(None)
        return delivered


def simulated(settings: Settings, devices: int, samples: int) -> list[Event]:
    """Births, then the first `samples` samples, as bench/stream_worker.py publishes them."""
    n = settings.telemetry_partitions
    offsets: dict[tuple[str, int], int] = {}
    events, sent = [], 0
    for emitted in Simulation(SimulationOptions(seed=3, devices=devices, duration_s=None)).run():
        name = topics.name(emitted.topic, settings)
        partition = zlib.crc32(emitted.key) % n
        offset = offsets[name, partition] = offsets.get((name, partition), -1) + 1
        message = Message(name, partition, offset, emitted.timestamp_ms / 1000)
        events.append(Event(message, emitted.key, emitted.value))
        sent += emitted.topic is Topic.TELEMETRY
        if sent == samples:
            return events
    return events


def run_worker(
    settings: Settings, events: list[Event], tick: int, emit_every: int = 1
) -> tuple[dict[str, float], str]:
    """Seconds in `take`, `write` and `emit` of the real device path over all events, and
    what it sent."""
    app = create_app(settings)
    producer = app.producer = Producer()  # type: ignore[assignment]
    take, write, emit = app.device_path  # type: ignore[attr-defined]
    spent = {"take": 0.0, "write": 0.0, "emit": 0.0}
    clock = time.process_time
    loop = asyncio.new_event_loop()
    batch = Batch()
    for n, at in enumerate(range(0, len(events), tick), 1):
        started = clock()
        for event in events[at : at + tick]:
            take(batch, event)
            batch.events.append(event)
        written = clock()
        loop.run_until_complete(write(batch))
        batch = Batch()
        emitted = clock()
        if n % emit_every == 0 or at + tick >= len(events):
            loop.run_until_complete(emit())
        done = clock()
        spent["take"] += written - started
        spent["write"] += emitted - written
        spent["emit"] += done - emitted
    loop.close()
    counters = app.counters  # type: ignore[attr-defined]
    sent = f"{producer.records:,} records ({producer.bytes / 1e6:,.1f} MB)"
    print(f"  sent {sent}; " + ", ".join(f"{k} {v:,}" for k, v in sorted(counters.items())))
    return spent, sent


def parts_alone(settings: Settings, events: list[Event]) -> dict[str, float]:
    """Seconds of each part of `take` alone, in the worker's order, over the same events."""
    registry = topics.name(Topic.REGISTRY, settings)
    configs, spent = {}, {}
    telemetry, samples = [], []
    started = time.process_time()
    for event in events:
        m = event.message
        source = Source(
            topic=topics.logical(m.topic, settings).value,
            partition=m.partition,
            offset=m.offset,
            key=event.key,
            value=event.value,
            timestamp_ms=round(m.timestamp * 1000),
        )
        if m.topic == registry:
            birth = read_birth(source)
            configs[birth.device_id] = DeviceConfig(
                window_ms=settings.oee_window_s * 1000,
                max_gap_ms=round(birth.sample_interval_s * settings.max_gap_intervals * 1000),
                grace_ms=settings.grace_s * 1000,
                ideal_cycle_s=birth.ideal_cycle_s,
            )
        else:
            sample = read_sample(source)
            samples.append((sample.device_id, Reading.of(sample)))
            telemetry.append(event)
    spent["parse + validate, contract (Source, pydantic, Reading)"] = time.process_time() - started
    if fast_reading is not None:  # since 2026-11-26 19:00: what the worker reads them with
        started = time.process_time()
        fast = [fast_reading(e.key, e.value) for e in telemetry]
        spent["parse + validate, fast path (fast_reading)"] = time.process_time() - started
        assert fast == samples

    states: dict[str, DeviceState] = {}
    started = time.process_time()
    for device_id, reading in samples:  # type: ignore[misc]
        state = states.get(device_id)
        if state is None:
            state = states[device_id] = DeviceState()
        state.accept(reading, configs[device_id])
    spent["state accept (DeviceState.accept)"] = time.process_time() - started

    rules, alarm_states = AlarmRules(), dict[str, AlarmState]()
    started = time.process_time()
    for device_id, reading in samples:  # type: ignore[misc]
        state = alarm_states.get(device_id)
        if state is None:
            state = alarm_states[device_id] = AlarmState()
        before = state.persistent()
        state.on_reading(
            device_id, reading.ts_ms, reading.state, rules, configs[device_id].max_gap_ms
        )
        _ = state.persistent() != before
    spent["alarms on readings (on_reading, persistent)"] = time.process_time() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--tick", type=int, default=10_000, help="records per batch and emit")
    parser.add_argument("--emit-every", type=int, default=1, help="emit after every Nth batch")
    parser.add_argument("--profile", help="cProfile stats of the real path to this file")
    parser.add_argument("--no-parts", action="store_true", help="the real path only")
    args = parser.parse_args()
    settings = Settings(topic_prefix="parts.")
    events = simulated(settings, args.devices, args.samples)
    samples = sum(e.message.topic.endswith(Topic.TELEMETRY.value) for e in events)
    one, five, _ = os.getloadavg()
    which = native.status()
    print(f"{samples:,} samples of {args.devices:,} devices, a batch every {args.tick:,} "
          f"records, an emit every {args.emit_every} batches; load {one:.2f}/{five:.2f}; "
          f"stream modules {which}")  # fmt: skip
    gc.collect()
    gc.freeze()  # the events are kept for the whole run, as Kafka would hold them

    figures: dict[str, float] = {}

    def per_sample(spent: dict[str, float]) -> None:
        for name, seconds in spent.items():
            print(f"  {name:<52}{seconds / samples * 1e6:8.2f}")
            figures[name] = seconds / samples * 1e6

    print(f"\nthe worker's device path{'µs/sample':>38}")
    if args.profile:
        profiler = cProfile.Profile()
        spent, sent = profiler.runcall(run_worker, settings, events, args.tick, args.emit_every)
        profiler.dump_stats(args.profile)
    else:
        spent, sent = run_worker(settings, events, args.tick, args.emit_every)
    per_sample({"take, per record (all of it)": spent["take"],
                "batch writes (state dumps, sends)": spent["write"],
                "window emits (timer)": spent["emit"],
                "total, ours": sum(spent.values())})  # fmt: skip
    if not args.no_parts:
        print(f"\nparts of take alone, on the same samples{'µs/sample':>22}")
        per_sample(parts_alone(settings, events))
    note = f"stream modules {which}; an emit every {args.emit_every} batches; sent {sent}"
    results.record("bench/stream_parts.py", "µs/sample (CPU)", figures, loads=[one], note=note)


if __name__ == "__main__":
    main()
