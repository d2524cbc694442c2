"""Reading a topic back whole, and checking samples arrived each once and in order per device.
A batch record (iiot/wire/sample_batch.py) counts, and is read, as the samples it carries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, Message

from iiot.contract import decode
from iiot.messages import Sample
from iiot.settings import Settings
from producers.packer import samples_in, unpacked
from producers.spool import Record


def read_topic(
    settings: Settings, topic: str, expected: int, timeout_s: float = 30
) -> list[Message]:
    """Every record of `topic` from the start, until `expected` samples (or other records)
    came and 1 s more passed."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[Message] = []
    samples = 0
    deadline = time.monotonic() + timeout_s
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=5_000, timeout=0.5)
            for message in batch:
                assert message.error() is None, message.error()
                received.append(message)
                samples += samples_in(message.value())
            if samples >= expected:  # wait a little for any extra (duplicate) records
                quiet_until = quiet_until or time.monotonic() + 1.0
                if time.monotonic() > quiet_until:
                    break
    finally:
        consumer.close()
    return received


def one_sample_records(messages: Iterable[Message]) -> list[Record]:
    """The records as one-sample records: a batch record's samples each as its own, with its
    event time as the timestamp (the batch record's time is its first sample's)."""
    records = []
    for message in messages:
        record = Record(message.topic(), message.key(), message.value(), message.timestamp()[1])
        samples = unpacked(record)
        assert samples[0].timestamp_ms == record.timestamp_ms, "a batch's time: its first's"
        records.extend(samples)
    return records


def ids_in_arrival_order(messages: Iterable[Message]) -> list[tuple[str, int]]:
    """(device_id, seq) of each sample; the key is the device_id, the record time the ts."""
    ids = []
    for record in one_sample_records(messages):
        sample = decode(Sample, record.value)
        assert record.key == sample.device_id.encode()
        shift = record.timestamp_ms - int(sample.ts.timestamp() * 1000)
        assert shift == 0, f"{sample.device_id} seq {sample.seq}: record time off by {shift} ms"
        ids.append((sample.device_id, sample.seq))
    return ids


def assert_once_in_order(
    ids: list[tuple[str, int]], expected: set[tuple[str, int]], replays: int = 0
) -> None:
    """Each expected id arrived; at most `replays` of them twice; per device in seq order once
    the replays are dropped by (device_id, seq), as downstream drops them."""
    seen: set[tuple[str, int]] = set()
    last: dict[str, int] = {}
    duplicates = 0
    for device_id, seq in ids:
        if (device_id, seq) in seen:
            duplicates += 1
            continue
        seen.add((device_id, seq))
        assert seq > last.get(device_id, -1), f"{device_id}: seq {seq} came after {last[device_id]}"
        last[device_id] = seq
    assert seen == expected, f"missing {len(expected - seen)}, unexpected {len(seen - expected)}"
    assert duplicates <= replays, f"{duplicates} duplicates, only {replays} replays possible"
