"""Sample-to-result latency of `iiot stream` at a steady rate (default 5,000 samples/s).

Synthetic devices sample in real time (event time = wall clock when produced). For each
device window the worker emits, the newest sample it includes is known (a window's samples
come in order), so latency = the result's Kafka timestamp − that sample's event time.
Prints p50, p90, p99 and max. Not a test.

    .venv/bin/python bench/stream_latency.py [--rate 5000] [--devices 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict

from confluent_kafka import Consumer, Producer

from iiot import kafka_admin, topics
from iiot.contract import decode, encode
from iiot.kafka_security import kafka_config
from iiot.messages import DeviceBirth, Enterprise, Sample
from iiot.oee import from_ms, to_ms, window_start
from iiot.results import OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic

try:
    from bench import results
except ImportError:  # run as a file: bench/ is first on sys.path
    import results  # type: ignore[no-redef]

ENTERPRISE = Enterprise(id="wf-goertek", name="歌尔 Goertek", city="weifang",
                        industry="electro-acoustics", cloud=True)  # fmt: skip


def births(devices: int, interval_s: float) -> list[DeviceBirth]:
    return [
        DeviceBirth(
            device_id=f"wf-goertek-p1-l{d % 8}-smt{d:04d}",
            enterprise=ENTERPRISE,
            plant_id="wf-goertek-p1",
            line_id=f"wf-goertek-p1-l{d % 8}",
            kind="smt_placement",
            key_process=True,
            numerically_controlled=True,
            sample_interval_s=interval_s,
            ideal_cycle_s=0.5,
        )
        for d in range(devices)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    settings = Settings(topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    kafka_admin.ensure_topics(settings)
    env = dict(os.environ, IIOT_TOPIC_PREFIX=settings.topic_prefix)
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "stream"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    producer = Producer(
        {
            **kafka_config(settings),
            "linger.ms": 2,
            "enable.idempotence": True,
            "compression.type": "lz4",
        }
    )
    interval_s = args.devices / args.rate
    devices = births(args.devices, interval_s)
    sent: dict[tuple[str, int], list[int]] = defaultdict(list)  # (device, window) → ts
    try:
        for birth in devices:
            producer.produce(
                topics.name(Topic.REGISTRY, settings), encode(birth), birth.device_id.encode()
            )
        producer.flush(10)
        time.sleep(15)  # the worker joins its group and recovers its (empty) tables
        started, n = time.time(), 0
        while time.time() - started < args.seconds:
            due = started + n / args.rate
            if (wait := due - time.time()) > 0:
                time.sleep(wait)
            birth = devices[n % args.devices]
            ts_ms = to_ms_now()
            seq = n // args.devices
            sample = Sample(
                device_id=birth.device_id,
                ts=from_ms(ts_ms),
                seq=seq,
                state="running",
                count_total=seq,
                count_good=seq,
            )
            producer.produce(
                topics.name(Topic.TELEMETRY, settings),
                encode(sample),
                birth.device_id.encode(),
                timestamp=ts_ms,
            )
            producer.poll(0)
            sent[(birth.device_id, window_start(ts_ms, settings.oee_window_s * 1000))].append(ts_ms)
            n += 1
        producer.flush(10)
        achieved = n / (time.time() - started)
        time.sleep(5)
        latencies = collect(settings, sent)
    finally:
        worker.terminate()
        worker.wait(30)
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{n:,} samples at {achieved:,.0f}/s from {args.devices:,} devices; "
        f"{len(latencies):,} device-window results"
    )
    print(
        f"sample-to-result latency, ms: p50 {q[49]:.0f}  p90 {q[89]:.0f}  p99 {q[98]:.0f}  "
        f"max {latencies[-1]:.0f}  (results are emitted on a 1 s timer)"
    )
    results.record(
        "bench/stream_latency.py",
        "ms",
        figures={"p50": q[49], "p90": q[89], "p99": q[98], "max": latencies[-1]},
        loads=[load_before],
        note=f"{n:,} samples at {achieved:,.0f}/s; {len(latencies):,} device-window results",
    )


def to_ms_now() -> int:
    return int(time.time() * 1000)


def collect(settings: Settings, sent: dict[tuple[str, int], list[int]]) -> list[float]:
    """For every device-window result: its Kafka timestamp − its newest sample's time."""
    consumer = Consumer(
        {
            **kafka_config(settings),
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.name(Topic.OEE, settings)])
    latencies, idle = [], 0
    while idle < 5:
        batch = consumer.consume(1000, timeout=1.0)
        idle = 0 if batch else idle + 1
        for message in batch:
            if not message.key().startswith(b"device:"):
                continue
            window: OeeWindow = decode(OeeWindow, message.value())
            times = sent[(window.entity_id, to_ms(window.window_start))]
            # Samples before the window's first are counted in earlier windows' intervals.
            newest = times[min(window.samples, len(times)) - 1] if window.samples else None
            if newest is not None:
                latencies.append(message.timestamp()[1] - newest)
    consumer.close()
    return [x for x in latencies if x >= 0] or [float("nan")]


if __name__ == "__main__":
    main()
