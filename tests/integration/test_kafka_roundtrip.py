"""10,000 samples through the real broker: produced with confluent-kafka, consumed back
intact with confluent-kafka and with aiokafka (the client Faust runs on)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer, Producer

from iiot import topics
from iiot.contract import decode, encode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.types import STATES

pytestmark = pytest.mark.integration

N_SAMPLES = 10_000
N_DEVICES = 40
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def make_samples() -> list[Sample]:
    samples = []
    for i in range(N_SAMPLES):
        device, seq = i % N_DEVICES, i // N_DEVICES
        samples.append(
            Sample(
                device_id=f"wf-goertek-p1-l{device % 4}-smt{device:02d}",
                ts=START + timedelta(seconds=5 * seq, milliseconds=device),
                seq=seq,
                state=STATES[(seq // 7) % len(STATES)],
                count_total=seq * 3,
                count_good=seq * 3 - seq // 10,
                ideal_cycle_s=1.5 + device / 10,
                product="ACOUSTIC-MODULE-B" if device % 2 else None,
                metrics={"power_kw": 4.2 + seq / 100, "temp_c": 40.5 - device / 3},
            )
        )
    return samples


@pytest.fixture(scope="module")
def produced(kafka: Settings) -> tuple[str, list[Sample]]:
    """The samples, published once for every test of this module."""
    topic = topics.name(topics.Topic.TELEMETRY, kafka)
    samples = make_samples()
    producer = Producer(
        {
            "bootstrap.servers": kafka.kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 5,
        }
    )
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    for sample in samples:
        while True:
            try:
                producer.produce(
                    topic, encode(sample), sample.device_id.encode(), on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(30) == 0, "messages still in flight after 30 s"
    assert failures == []
    return topic, samples


def assert_intact(received: list[tuple[bytes, bytes]], samples: list[Sample]) -> None:
    assert len(received) == len(samples)
    by_id = {(s.device_id, s.seq): s for s in samples}
    last_seq: dict[str, int] = {}
    for key, value in received:
        sample = decode(Sample, value)
        assert key == sample.device_id.encode()
        assert by_id.pop((sample.device_id, sample.seq)) == sample
        # One device, one key, one partition: its samples come back in order.
        assert sample.seq > last_seq.get(sample.device_id, -1)
        last_seq[sample.device_id] = sample.seq
    assert by_id == {}


def test_confluent_kafka_consumes_every_sample_intact(
    kafka: Settings, produced: tuple[str, list[Sample]]
) -> None:
    topic, samples = produced
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(samples) and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                assert message.error() is None, message.error()
                received.append((message.key(), message.value()))
    finally:
        consumer.close()
    assert_intact(received, samples)


def test_aiokafka_consumes_every_sample_intact(
    kafka: Settings, produced: tuple[str, list[Sample]]
) -> None:
    topic, samples = produced

    async def consume() -> list[tuple[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.kafka_bootstrap,
            group_id=f"test-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        received: list[tuple[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + 60
            while len(received) < len(samples) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for records in batches.values():
                    received.extend((r.key, r.value) for r in records)
            await consumer.commit()
        finally:
            await consumer.stop()
        return received

    assert_intact(asyncio.run(consume()), samples)
