"""Stream worker throughput beside its peers, in one run against the local broker:

1. a plain confluent-kafka consume-and-parse loop over the same topic (decode + validate
   every sample): the ceiling for Python consumption;
2. `iiot stream` (Faust), one worker: device OEE windows with changelogged state, roll-ups,
   digitization, alarms;
3. the same device-OEE windows written with Quix Streams (bench/quix_oee.py): the same
   DeviceState logic in a stateful `apply`, its state in Quix's RocksDB store.

With `--records batch` (or `both`, the default) the same samples also go out packed: each
device's consecutive samples, `--batch` at most to a record, by `iiot.wire.sample_batch.pack`,
and every consumer reads those records: consume+parse unpacks and checks each sample, Quix
unpacks and runs each sample through the same DeviceState, Faust-nothing passes the records.
Rates are samples/s either way (committed records × samples per record); on batch records
Faust commits every 0.5 s (its default is 2.8 s), as Quix does in every row, since the few
thousand records pass in seconds, and they are timed from the start of their publishing (the
consumer waiting, the floor having read a first record), not from a first commit.

Each gets topics of its own (a `bench-<id>-<n>.` prefix, deleted afterwards) with the same
births and samples: the births are published first and the consumer has committed them
before the samples are published, so no sample is read before its device's birth (the
worker would only hold it, and Quix drop it, until the birth came: cheap work that made
earlier rates depend on which topic was fetched first). The rate is samples over the time
between the first and the last committed telemetry offset. Prints; not a test.

    make bench-streams            (a venv of its own: quixstreams pins an older confluent-kafka)
    .venv-bench/bin/python bench/stream_worker.py [--devices 2000] [--samples 200000]
        [--records one|batch|both] [--batch 50] [--only faust] [--profile PATH] [--workers N]
    (PATH: py-spy raw stacks of the worker, top functions printed; N: workers in one group)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from iiot import kafka_admin, topics
from iiot.contract import decode
from iiot.kafka_security import kafka_config
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire import sample_batch
from simulators import Emitted, Simulation, SimulationOptions

try:
    from bench import results
except ImportError:  # run as a file: bench/ is first on sys.path
    import results  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def simulated(devices: int, samples: int) -> tuple[list[Emitted], list[Emitted]]:
    """The births and the first `samples` valid samples the simulator makes."""
    births, telemetry = [], []
    for event in Simulation(SimulationOptions(seed=3, devices=devices, duration_s=None)).run():
        (telemetry if event.topic is Topic.TELEMETRY else births).append(event)
        if len(telemetry) == samples:
            break
    return births, telemetry


def packed(samples: list[Emitted], most: int) -> list[Emitted]:
    """The same samples as batch records: each device's consecutive samples, `most` at most to
    a record, a record going out when it is full (the rest at the end), in the samples' order."""
    waiting: dict[bytes, list[Emitted]] = {}
    records = []

    def record(key: bytes, batch: list[Emitted]) -> Emitted:
        value = sample_batch.pack(key.decode(), [e.value for e in batch])
        return Emitted(Topic.TELEMETRY, key, value, batch[0].timestamp_ms, True)

    for event in samples:
        batch = waiting.setdefault(event.key, [])
        batch.append(event)
        if len(batch) == most:
            records.append(record(event.key, waiting.pop(event.key)))
    records += [record(key, batch) for key, batch in waiting.items()]
    return records


def parse(value: bytes) -> int:
    """Decode and validate a record's samples by the contract, as the worker must; how many."""
    batch = sample_batch.unpack(value) if sample_batch.is_batch(value) else None
    if batch is None:
        decode(Sample, value)
        return 1
    for element in batch.samples:
        sample_batch.sample_of(batch.device_id, element)
    return len(batch.samples)


def publish(settings: Settings, events: list[Emitted]) -> None:
    producer = Producer(
        {
            **kafka_config(settings),
            "linger.ms": 20,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    for event in events:
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
    assert producer.flush(60) == 0


def end_offsets(settings: Settings, topic: Topic = Topic.TELEMETRY) -> list[TopicPartition]:
    consumer = Consumer({**kafka_config(settings), "group.id": "offsets"})
    name = topics.name(topic, settings)
    parts = consumer.list_topics(name, timeout=10).topics[name].partitions
    ends = [
        TopicPartition(name, p, consumer.get_watermark_offsets(TopicPartition(name, p))[1])
        for p in parts
    ]
    consumer.close()
    return ends


def committed(settings: Settings, group: str, ends: list[TopicPartition]) -> int:
    consumer = Consumer({**kafka_config(settings), "group.id": group})
    done = sum(
        max(tp.offset, 0)
        for tp in consumer.committed(
            [TopicPartition(tp.topic, tp.partition) for tp in ends], timeout=10
        )
    )
    consumer.close()
    return done


def watch(
    settings: Settings,
    group: str,
    processes: list[subprocess.Popen],
    total: int,
    poll_s: float,
    since: tuple[float, int] | None = None,
) -> float:
    """Records/s between the first and the last committed offset of `group`, or from `since`
    (when publishing began, and the records committed then) if given."""
    ends = end_offsets(settings)
    first = since
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            time.sleep(poll_s)
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
            **kafka_config(settings),
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
            seen += parse(message.value())
    elapsed = time.perf_counter() - started
    consumer.close()
    return total / elapsed


def faust_command(profile: str | None) -> list[str]:
    worker = [sys.executable, "-m", "cli", "stream"]
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


def consumed(
    name: str,
    start: Callable[[Settings, dict[str, str]], list[subprocess.Popen]],
    group: str,
    births: list[Emitted],
    records: list[Emitted],
    run_id: str,
    per_record: float = 1.0,
) -> float:
    """Samples/s of the consumer `start` launches (group `group` under its prefix), on topics
    of its own: births published and committed by it before the records are published.
    `per_record`: samples per record (1 for one-sample records)."""
    settings = Settings(topic_prefix=f"bench-{run_id}-{uuid.uuid4().hex[:4]}.")
    kafka_admin.ensure_topics(settings)
    env = dict(
        os.environ,
        IIOT_TOPIC_PREFIX=settings.topic_prefix,
        IIOT_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
    )
    if per_record > 1:  # a few thousand records pass in seconds: Faust commits as often as Quix
        env["BROKER_COMMIT_INTERVAL"] = "0.5"
    processes: list[subprocess.Popen] = []
    records_all = records
    try:
        publish(settings, births)
        processes = start(settings, env)
        group = f"{settings.topic_prefix}{group}"
        if not name.startswith(FLOOR):  # the floor reads telemetry only
            registry = end_offsets(settings, Topic.REGISTRY)
            deadline = time.monotonic() + 300
            while committed(settings, group, registry) < len(births):
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"{name}: births not consumed")
                time.sleep(0.5)
        elif per_record > 1:  # the floor has joined once it commits a first record: the
            publish(settings, records[:1])  # batch records pass too fast to time a join too
            first = end_offsets(settings)
            while committed(settings, group, first) < 1:
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"{name}: exited")
                time.sleep(0.2)
            records = records[1:]
        # Batch records pass in seconds, within a commit or two: timed from their publishing.
        started = time.monotonic()
        since = (started, len(records_all) - len(records)) if per_record > 1 else None
        publish(settings, records)
        published = len(records) * per_record / (time.monotonic() - started)
        poll_s = 0.5 if per_record == 1 else 0.2
        rate = watch(settings, group, processes, len(records_all), poll_s, since) * per_record
        refused = sum(tp.offset for tp in end_offsets(settings, Topic.DEADLETTER))
    finally:
        for process in processes:  # watch() stops them; this, when it never ran
            if process.poll() is None:
                process.kill()
                process.wait()
        kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
        shutil.rmtree(Path(tempfile.gettempdir(), "iiot-streams", group), True)  # Faust's state
    # A worker that refuses the records (one that cannot read batches) is fast at nothing:
    # no rate (null in the results), the refusals said.
    warning = f"; {refused:,} DEAD LETTERS: not a rate of work done" if refused else ""
    if since is not None and rate > 0.8 * published:  # it read as fast as they came
        warning += f"; at least: published at {published:,.0f}/s"
    print(f"  {name:<52}{rate:>10,.0f}/s; load {load()}{warning}", flush=True)
    return float("nan") if refused else rate


FLOOR = "Faust, batches of nothing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--records", choices=["one", "batch", "both"], default="both")
    parser.add_argument("--batch", type=int, default=50, help="samples per batch record at most")
    parser.add_argument("--only", choices=["faust"], help="skip the peers")
    parser.add_argument("--profile", help="record the worker with py-spy to this file")
    parser.add_argument("--workers", type=int, default=1, help="iiot stream processes, one group")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:6]
    births, samples = simulated(args.devices, args.samples)
    loads = [os.getloadavg()[0]]
    print(f"{len(samples):,} samples of {args.devices:,} devices; load {load()}", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    def workers(settings: Settings, env: dict[str, str]) -> list[subprocess.Popen]:
        return [
            subprocess.Popen(faust_command(args.profile if n == 0 else None), env=env, **quiet)
            for n in range(args.workers)
        ]

    def floor(settings: Settings, env: dict[str, str]) -> list[subprocess.Popen]:
        group = f"{settings.topic_prefix}faust-floor"
        script = str(REPO / "bench/faust_floor.py")
        return [subprocess.Popen([sys.executable, script, group], env=env, **quiet)]

    rates: dict[str, float] = {}
    faust_rows = []
    for kind in ("one", "batch") if args.records == "both" else (args.records,):
        records = samples if kind == "one" else packed(samples, args.batch)
        per = len(samples) / len(records)
        end = "" if kind == "one" else ", batch records"
        print(f"{'one-sample' if kind == 'one' else 'batch'} records: {len(records):,} "
              f"({per:.1f} samples each)", flush=True)  # fmt: skip
        if args.only is None:
            settings = Settings(topic_prefix=f"bench-{run_id}-loop.")
            kafka_admin.ensure_topics(settings)
            try:
                publish(settings, births + records)
                rates[CEILING + end] = bench_confluent(settings, len(samples))
            finally:
                kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)
            print(f"  {CEILING + end:<52}{rates[CEILING + end]:>10,.0f}/s; load {load()}")
        faust_row = "iiot stream (Faust)" + (f" ×{args.workers}" if args.workers > 1 else "") + end
        faust_rows.append(faust_row)
        rates[faust_row] = consumed(
            faust_row, workers, "iiot-streams", births, records, run_id, per
        )
        if args.profile:
            print_profile(args.profile)
        rates[FLOOR + end] = consumed(
            FLOOR + end, floor, "faust-floor", births, records, run_id, per
        )
        if args.only:
            continue
        with tempfile.TemporaryDirectory() as state_dir:

            def quix(settings: Settings, env: dict[str, str], state_dir=state_dir) -> list:
                group = f"{settings.topic_prefix}quix-oee"
                script = str(REPO / "bench/quix_oee.py")
                command = [sys.executable, script, group, state_dir]
                return [subprocess.Popen(command, env=env, **quiet)]

            rates[QUIX + end] = consumed(QUIX + end, quix, "quix-oee", births, records, run_id, per)
    print(f"\n{'samples/s, one process, one core':<52}{'rate':>12}")
    for name, rate in rates.items():
        print(f"{name:<52}{rate:>12,.0f}")
    verdicts(rates, faust_rows)
    record(rates, faust_rows, loads)


def verdicts(rates: dict[str, float], faust_rows: list[str]) -> None:
    """The goals of issue 14, each met or not, beside the load."""
    for row in faust_rows:
        rate, end = rates[row], ", batch records" if row.endswith(", batch records") else ""
        floor, quix = rates.get(FLOOR + end), rates.get(QUIX + end)
        if not end and floor:
            met = "met" if rate >= 0.8 * floor else "NOT met"
            print(f"{row}: {rate / floor:.2f}× Faust doing nothing; goal ≥ 0.8×: {met}")
        elif end:
            met = "met" if rate >= 60_000 and (quix is None or rate >= quix) else "NOT met"
            vs = f", {rate / quix:.2f}× Quix" if quix else ""
            print(f"{row}: {rate:,.0f} samples/s{vs}; goal ≥ 60,000/s and ≥ 1.0× Quix: {met}")
    print(f"load {load()} on {os.cpu_count()} cores")


def record(rates: dict[str, float], faust_rows: list[str], loads: list[float]) -> None:
    """The run to bench/results/: the worker's rates, its peers', and the ratios to the peers
    that read the same records."""
    peers = {name: rate for name, rate in rates.items() if name not in faust_rows}
    ratios = {
        f"{row} / {name}": rates[row] / rate
        for row in faust_rows
        for name, rate in peers.items()
        if name.endswith(", batch records") == row.endswith(", batch records")
    }
    results.record(
        "bench/stream_worker.py",
        "samples/s",
        figures={row: rates[row] for row in faust_rows},
        peers=peers,
        ratios=ratios,
        loads=loads,
    )


CEILING = "confluent-kafka consume + parse"
QUIX = "Quix Streams, same windows"


if __name__ == "__main__":
    main()
