"""Producer throughput, three ways in one run against the local broker:

1. `iiot simulate --speed max`: the simulator and the Publisher in one process, as users run
   it, and with `--workers 2` (the devices dealt over two processes);
2. the raw confluent-kafka client producing pre-serialised sample payloads of the same size
   with the same settings (the ceiling of the Python client): a delivery callback for every
   record, as before; failures reported only, as the Publisher has it; and that in two
   processes at once, to hold `--workers 2` against;
3. Kafka's own org.apache.kafka.tools.ProducerPerformance (the 4.1.2 jars, bench/kafka-tools)
   sending those same payloads with the same settings.

Also the raw client with lz4 against zstd, which is how the Publisher's default was chosen.
Topics get a `bench-<id>.` prefix and are deleted afterwards. Not a timed test: it prints.

    .venv/bin/python bench/producer.py [--devices 1000] [--duration 900] [--records 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from iiot import kafka_admin, topics
from iiot.settings import Settings
from producers.kafka_client import client_config
from producers.publisher import Publisher
from simulators import Simulation, SimulationOptions, native

try:
    from bench import results
except ImportError:  # run as a file: bench/ is first on sys.path
    import results  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
POM = REPO / "bench/kafka-tools/pom.xml"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iiot-bench"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def result(
    records: int, seconds: float, cpu_s: float, rate: float | None = None
) -> dict[str, float]:
    """One row: records, wall seconds, records per second (unless given), CPU share and seconds."""
    rate = records / seconds if rate is None else rate
    return {
        "records": records,
        "seconds": seconds,
        "rate": rate,
        "cpu": cpu_s / seconds,
        "cpu_s": cpu_s,
    }


class Stopwatch:
    """Wall and CPU seconds (all threads of this process) between enter and exit."""

    def __enter__(self) -> Stopwatch:
        self._started, self._cpu_started = time.monotonic(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.monotonic() - self._started
        self.cpu_s = time.process_time() - self._cpu_started


def sample_payloads(devices: int, count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of the first `count` samples the simulator makes: real sizes, real JSON."""
    run = Simulation(SimulationOptions(devices=devices, duration_s=None)).run()
    pairs = []
    for event in run:
        if event.topic is topics.Topic.TELEMETRY:
            pairs.append((event.key, event.value))
            if len(pairs) == count:
                return pairs
    return pairs


def bench_simulate(
    settings: Settings, devices: int, duration_s: int, workers: int = 1
) -> dict[str, float]:
    """`iiot simulate` as a user runs it; its own summary says what it delivered and when."""
    before = _children_cpu_s()
    with tempfile.TemporaryDirectory() as spool_dir:
        command = [str(REPO / ".venv/bin/iiot"), "simulate", "--devices", str(devices)]
        command += ["--speed", "max", "--duration", str(duration_s), "--json"]
        command += ["--workers", str(workers)]
        command += ["--spool", f"{spool_dir}/spool.sqlite"]
        env = dict(os.environ, IIOT_TOPIC_PREFIX=settings.topic_prefix)
        env["IIOT_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        process_s = time.monotonic() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    cpu_s = _children_cpu_s() - before
    samples = summary["delivered"] - devices  # the births are records too, not samples
    # Its own wall time (from its summary) excludes the interpreter's start; CPU includes it.
    row = result(summary["delivered"], process_s, cpu_s, rate=samples / summary["wall_s"])
    return row | {
        "samples": samples,
        "seconds": summary["wall_s"],
        "spooled": summary["spooled"],
    }


def bench_raw(
    settings: Settings,
    topic: str,
    pairs: list[tuple[bytes, bytes]],
    records: int,
    *,
    every_report: bool = True,
    **overrides: object,
) -> dict[str, float]:
    """The client alone: pre-serialised payloads and a delivery callback that only counts —
    for every record (`every_report`, the classic ceiling), or for failures only, as the
    Publisher has it (`delivery.report.only.error`)."""
    failed = 0
    delivered = 0

    def on_delivery(err: object, _msg: object) -> None:
        nonlocal delivered, failed
        delivered += err is None
        failed += err is not None

    config = {**client_config(settings), **overrides, "on_delivery": on_delivery}
    config["delivery.report.only.error"] = not every_report
    producer = Producer(config)
    producer.poll(0)
    timestamp = 1_764_115_200_000
    n = len(pairs)
    with Stopwatch() as watch:
        for i in range(records):
            key, value = pairs[i % n]
            while True:
                try:
                    producer.produce(topic, value, key, timestamp=timestamp + i)
                    break
                except BufferError:
                    producer.poll(0.01)
            if i % 1_000 == 0:
                producer.poll(0)
        producer.flush(120)
    if not every_report:  # what is not held and did not fail was delivered
        delivered = records - failed - len(producer)
    return result(delivered, watch.seconds, watch.cpu_s)


def bench_raw_processes(
    settings: Settings, topic: str, pairs: list[tuple[bytes, bytes]], records: int, processes: int
) -> dict[str, float]:
    """The raw client (failures reported only) in `processes` processes at once, each with a
    share of the records: the ceiling to hold `iiot simulate --workers` against."""
    context = multiprocessing.get_context("fork")
    share = records // processes
    with context.Pool(processes) as pool:
        parts = pool.starmap(
            _raw_share, [(settings, topic, pairs[k::processes], share) for k in range(processes)]
        )
    seconds = max(part["seconds"] for part in parts)
    return result(
        sum(part["records"] for part in parts), seconds, sum(part["cpu_s"] for part in parts)
    )


def _raw_share(
    settings: Settings, topic: str, pairs: list[tuple[bytes, bytes]], records: int
) -> dict[str, float]:
    return bench_raw(settings, topic, pairs, records, every_report=False)


def bench_publisher(
    settings: Settings, pairs: list[tuple[bytes, bytes]], records: int
) -> dict[str, float]:
    """The Publisher alone (no simulator): the same pre-serialised payloads, through publish()."""
    telemetry, timestamp, n = topics.Topic.TELEMETRY, 1_764_115_200_000, len(pairs)
    with tempfile.TemporaryDirectory() as spool_dir:
        publisher = Publisher(settings, f"{spool_dir}/spool.sqlite")
        publish = publisher.publish
        with Stopwatch() as watch:
            for i in range(records):
                key, value = pairs[i % n]
                publish(telemetry, key, value, timestamp + i)
            publisher.close(120)
    return result(publisher.counters.delivered, watch.seconds, watch.cpu_s)


def bench_simulator(devices: int, duration_s: int) -> dict[str, float]:
    """The simulator alone, no Kafka: what it takes to make the samples `iiot simulate` sends."""
    simulation = Simulation(SimulationOptions(devices=devices, duration_s=duration_s))
    with Stopwatch() as watch:
        records = sum(1 for _ in simulation.run())
    return result(records - devices, watch.seconds, watch.cpu_s)


def kafka_tools_classpath() -> str:
    """The kafka-tools 4.1.2 jars, resolved once per pom into the cache dir."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    libs = CACHE / f"kafka-tools-{digest}"
    if not (libs / ".complete").exists():
        print(f"resolving kafka-tools jars into {libs} …", file=sys.stderr)
        subprocess.run(
            ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={libs}"],
            check=True,
        )  # fmt: skip
        (libs / ".complete").touch()
    return f"{libs}/*"


def bench_java(
    settings: Settings, topic: str, pairs: list[tuple[bytes, bytes]], records: int
) -> dict[str, float]:
    """ProducerPerformance with the same payloads (one per line) and the same settings."""
    config = client_config(settings)
    props = [
        f"bootstrap.servers={settings.kafka_bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        f"compression.type={config['compression.type']}",
        f"linger.ms={config['linger.ms']}",
        f"batch.size={config['batch.size']}",
    ]
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as payload_file:
        payload_file.write(b"\n".join(value for _, value in pairs[:50_000]))
        payload_file.flush()
        command = ["java", "-Xmx1g", "-cp", kafka_tools_classpath()]
        command += ["org.apache.kafka.tools.ProducerPerformance", "--topic", topic]
        command += ["--num-records", str(records), "--throughput", "-1"]
        command += ["--payload-file", payload_file.name, "--producer-props", *props]
        before = _children_cpu_s()
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        seconds = time.monotonic() - started
        cpu_s = _children_cpu_s() - before
    final = [line for line in done.stdout.splitlines() if "records sent" in line][-1]
    match = re.search(r"(\d+) records sent, ([\d.]+) records/sec", final)
    assert match, final
    # Its own rate excludes the JVM's start; the CPU share includes it.
    return {
        "records": int(match[1]),
        "seconds": seconds,
        "rate": float(match[2]),
        "cpu": cpu_s / seconds,
        "cpu_s": cpu_s,
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def print_results(rows: dict[str, tuple[dict[str, float], str]]) -> None:
    raw_rate = rows[RAW][0]["rate"]
    header = f"{'records':>10} {'seconds':>8} {'per second':>11} {'vs raw':>7} {'CPU':>5}"
    print(f"\n{'':30} {header} {'per CPU s':>10}  load after (1/5 min)")
    for name, (result, load_after) in rows.items():
        per_cpu = result["records"] / result["cpu_s"]
        print(
            f"{name:30} {result['records']:>10,.0f} {result['seconds']:>8.1f} "
            f"{result['rate']:>11,.0f} {result['rate'] / raw_rate:>7.0%} {result['cpu']:>5.0%} "
            f"{per_cpu:>10,.0f}  {load_after}"
        )
    java = rows[JAVA][0]
    for label, quiet in ((SIMULATE, RAW_QUIET), (WORKERS, RAW_PROCESSES)):
        simulate = rows[label][0]
        print(
            f"\n{label}: {simulate['samples']:,.0f} samples, {simulate['spooled']:,.0f} spooled;"
            f" ≥ 100,000 samples/s: {simulate['rate']:,.0f} ({simulate['rate'] / 100_000:.0%});"
            f" ≥ 50% of the raw client: {simulate['rate'] / raw_rate:.0%}"
            f" (of '{quiet}', reporting as the Publisher does:"
            f" {simulate['rate'] / rows[quiet][0]['rate']:.0%})"
        )
    print(f"raw Python client / Java ProducerPerformance: {raw_rate / java['rate']:.0%}")


SIMULATE, WORKERS = "iiot simulate --speed max", "iiot simulate --workers 2"
RAW, RAW_QUIET = "raw confluent-kafka", "raw, failures reported only"
RAW_PROCESSES, JAVA = "raw, failures only, 2 procs", "Kafka ProducerPerformance"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--duration", type=int, default=900, help="simulated seconds")
    parser.add_argument("--records", type=int, default=1_000_000, help="raw client and Java")
    parser.add_argument("--bootstrap", default=Settings().kafka_bootstrap)
    args = parser.parse_args()

    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    settings = Settings(kafka_bootstrap=args.bootstrap, topic_prefix=prefix)
    raw_topic, java_topic = f"{prefix}raw", f"{prefix}java"
    kafka_admin.ensure_topics(settings)
    admin = kafka_admin.admin_client(settings)
    wanted = [NewTopic(t, settings.telemetry_partitions) for t in (raw_topic, java_topic)]
    for future in admin.create_topics(wanted).values():
        future.result(30)
    pairs = sample_payloads(args.devices, 200_000)
    size = sum(len(v) for _, v in pairs) / len(pairs)
    load_before = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load {load()} (1/5 min) before; payloads {size:.0f} B average")
    codec, linger = settings.producer_compression, settings.producer_linger_ms
    print(f"{codec}, linger.ms {linger}, acks=all, idempotent")
    # The subprocesses decide as this process did (same files, same environment).
    print(f"simulator: {native.status()}; IIOT_SIMULATOR=pure runs the pure-Python one")

    rows: dict[str, tuple[dict[str, float], str]] = {}
    half = args.records // 2
    try:
        rows[SIMULATE] = bench_simulate(settings, args.devices, args.duration), load()
        rows[WORKERS] = bench_simulate(settings, args.devices, args.duration, workers=2), load()
        rows[RAW] = bench_raw(settings, raw_topic, pairs, args.records), load()
        quiet = bench_raw(settings, raw_topic, pairs, args.records, every_report=False)
        rows[RAW_QUIET] = quiet, load()
        two = bench_raw_processes(settings, raw_topic, pairs, args.records, processes=2)
        rows[RAW_PROCESSES] = two, load()
        rows[JAVA] = bench_java(settings, java_topic, pairs, args.records), load()
        rows["Publisher alone"] = bench_publisher(settings, pairs, args.records), load()
        rows["simulator alone (no Kafka)"] = bench_simulator(args.devices, args.duration), load()
        for codec in ("lz4", "zstd"):
            result = bench_raw(settings, raw_topic, pairs, half, **{"compression.type": codec})
            rows[f"raw client, {codec}"] = result, load()
    finally:
        kafka_admin.delete_prefixed_topics(prefix, settings)
    print_results(rows)
    record(rows, load_before)


def record(rows: dict[str, tuple[dict[str, float], str]], load_before: float) -> None:
    """The run to bench/results/: rates and rates per CPU second, ours against the peers'."""
    ours = (SIMULATE, WORKERS, "Publisher alone", "simulator alone (no Kafka)")
    figures, peers = {}, {}
    for name, (result, _) in rows.items():
        kept = figures if name in ours else peers
        kept[name] = result["rate"]
        kept[f"{name}, per CPU s"] = result["records"] / result["cpu_s"]
    ratios = {f"{name} / {RAW}": figures[name] / peers[RAW] for name in ours}
    ratios[f"{SIMULATE} / {RAW_QUIET}"] = figures[SIMULATE] / peers[RAW_QUIET]
    results.record(
        "bench/producer.py",
        "records/s",
        figures=figures,
        peers=peers,
        ratios=ratios,
        loads=[load_before, *(float(after.split("/")[0]) for _, after in rows.values())],
        note=f"simulator: {native.status()}",
    )


if __name__ == "__main__":
    main()
