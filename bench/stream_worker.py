"""Stream worker throughput beside its peers, in one run against the local broker:

1. a plain confluent-kafka consume-and-parse loop over the same topic (decode + validate
   every sample): the ceiling for Python consumption;
2. `iiot stream` (Faust), one worker: device OEE windows with changelogged state, roll-ups,
   digitization, alarms;
3. the same device-OEE windows written with Quix Streams (bench/quix_oee.py): the same
   DeviceState logic in a stateful `apply`, its state in Quix's RocksDB store.

Each reads the same pre-published telemetry (births first) from the start, in a consumer
group of its own; the rate is samples over the time between its first and last committed
offset. Topics get a `bench-<id>.` prefix and are deleted afterwards. Prints; not a test.

    make bench-streams            (a venv of its own: quixstreams pins an older confluent-kafka)
    .venv-bench/bin/python bench/stream_worker.py [--devices 2000] [--samples 200000]
        [--only faust] [--profile PATH] [--workers N]
    (PATH: py-spy raw stacks of the worker, top functions printed; N: workers in one group)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from iiot import kafka_admin, topics
from iiot.contract import decode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Simulation, SimulationOptions

REPO = Path(__file__).resolve().parents[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def publish(settings: Settings, devices: int, samples: int) -> int:
    """Births, then the first `samples` valid samples the simulator makes."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "linger.ms": 20,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    sent = 0
    for event in Simulation(SimulationOptions(seed=3, devices=devices, duration_s=None)).run():
        while True:
            try:
                producer.produce(
                    topics.name(event.topic, settings),
                    event.value,
                    event.key,
                    timestamp=event.timestamp_ms,
                )
                break
            except BufferError:
                producer.poll(0.05)
        sent += event.topic is Topic.TELEMETRY
        if sent == samples:
            break
    assert producer.flush(60) == 0
    return sent


def end_offsets(settings: Settings) -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "offsets"})
    name = topics.name(Topic.TELEMETRY, settings)
    parts = consumer.list_topics(name, timeout=10).topics[name].partitions
    ends = [
        TopicPartition(name, p, consumer.get_watermark_offsets(TopicPartition(name, p))[1])
        for p in parts
    ]
    consumer.close()
    return ends


def committed(settings: Settings, group: str, ends: list[TopicPartition]) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    done = sum(
        max(tp.offset, 0)
        for tp in consumer.committed(
            [TopicPartition(tp.topic, tp.partition) for tp in ends], timeout=10
        )
    )
    consumer.close()
    return done


def watch(settings: Settings, group: str, processes: list[subprocess.Popen], total: int) -> float:
    """Samples/s between the first and the last committed offset of `group`."""
    ends = end_offsets(settings)
    first = None
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            done = committed(settings, group, ends)
            now = time.monotonic()
            if first is None and done > 0:
                first = (now, done)
            if done >= total:
                return (done - first[1]) / (now - first[0]) if now > first[0] else float("nan")
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args} exited with {process.returncode}")
        raise RuntimeError(f"{group} did not finish in 900 s")
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT, not SIGTERM
        for process in processes:
            process.wait(60)


def bench_confluent(settings: Settings, total: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.name(Topic.TELEMETRY, settings)])
    seen, started = 0, None
    while seen < total:
        batch = consumer.consume(1000, timeout=1.0)
        if batch and started is None:
            started = time.perf_counter()
        for message in batch:
            decode(Sample, message.value())
        seen += len(batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    return total / elapsed


def faust_command(profile: str | None) -> list[str]:
    worker = [sys.executable, "-m", "iiot.cli", "stream"]
    if profile is None:
        return worker
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        spy = REPO / ".venv/bin/py-spy"
    return [str(spy), "record", "--format", "raw", "--rate", "200", "-o", profile, "--", *worker]


def print_profile(path: str, top: int = 25) -> None:
    """The functions the worker spent its samples in: own time, and time under them."""
    own, under, total = Counter(), Counter(), 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            under[frame] += n
    # Frames under nearly everything (the event loop, the CLI) say nothing.
    under = Counter({frame: n for frame, n in under.items() if n < 0.75 * total})
    for title, counts in (("own time", own), ("under it", under)):
        print(f"\npy-spy, {title} (% of {total:,} samples)")
        for frame, n in counts.most_common(top):
            print(f"  {100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--only", choices=["faust"], help="skip the peers")
    parser.add_argument("--profile", help="record the worker with py-spy to this file")
    parser.add_argument("--workers", type=int, default=1, help="iiot stream processes, one group")
    args = parser.parse_args()
    settings = Settings(topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    env = dict(
        os.environ,
        IIOT_TOPIC_PREFIX=settings.topic_prefix,
        IIOT_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
    )
    try:
        total = publish(settings, args.devices, args.samples)
        print(f"published {total:,} samples of {args.devices:,} devices; load {load()}")
        rates = {}
        if args.only is None:
            rates["confluent-kafka consume + parse"] = bench_confluent(settings, total)
            print(f"  confluent-kafka loop  {rates['confluent-kafka consume + parse']:>10,.0f}/s")
        workers = [
            subprocess.Popen(
                faust_command(args.profile if n == 0 else None),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n in range(args.workers)
        ]
        faust_row = "iiot stream (Faust)" + (f" ×{args.workers}" if args.workers > 1 else "")
        rates[faust_row] = watch(settings, f"{settings.topic_prefix}iiot-streams", workers, total)
        print(f"  {faust_row:<21} {rates[faust_row]:>10,.0f}/s; load {load()}")
        if args.profile:
            print_profile(args.profile)
        group = f"{settings.topic_prefix}faust-floor"
        floor = subprocess.Popen(
            [sys.executable, str(REPO / "bench/faust_floor.py"), group],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rates["Faust, batches of nothing"] = watch(settings, group, [floor], total)
        print(f"  Faust doing nothing   {rates['Faust, batches of nothing']:>10,.0f}/s")
        if args.only:
            return
        with tempfile.TemporaryDirectory() as state_dir:
            group = f"{settings.topic_prefix}quix-oee"
            quix = subprocess.Popen(
                [sys.executable, str(REPO / "bench/quix_oee.py"), group, state_dir],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            rates["Quix Streams, same windows"] = watch(settings, group, [quix], total)
        print(f"  Quix Streams          {rates['Quix Streams, same windows']:>10,.0f}/s")
    finally:
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    ceiling, faust_rate = rates["confluent-kafka consume + parse"], rates[faust_row]
    print(f"\n{'samples/s, one process, one core':<40}{'rate':>12}{'vs Faust':>10}")
    for name, rate in rates.items():
        print(f"{name:<40}{rate:>12,.0f}{rate / faust_rate:>10.2f}")
    print(
        f"\nFaust worker at {faust_rate / ceiling:.0%} of the consume+parse ceiling; "
        f"goal ≥ 20,000/s per worker: {'met' if faust_rate >= 20_000 else 'NOT met'}; "
        f"load {load()} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
