"""10,000 samples through the real broker: produced with confluent-kafka, consumed back
intact with confluent-kafka and with aiokafka (the client Faust runs on)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from iiot import kafka_admin
from iiot.contract import decode, encode
from iiot.messages import Sample
from iiot.settings import Settings
from tests.integration import sample_maker
from tests.integration.telemetry_reader import read_topic

pytestmark = pytest.mark.integration

N_SAMPLES = 10_000
N_DEVICES = 40


def make_samples() -> list[Sample]:
    return [sample_maker.sample(i, N_DEVICES) for i in range(N_SAMPLES)]


@pytest.fixture(scope="module")
def produced(kafka: Settings) -> tuple[str, list[Sample]]:
    """The samples, published once for every test of this module, to a topic of its own
    (other modules read the run's telemetry topic whole)."""
    topic = f"{kafka.topic_prefix}roundtrip.telemetry"
    admin = kafka_admin.admin_client(kafka)  # held until the topic exists
    kept = {"retention.ms": "-1"}  # its samples are of 2026-11-26: kept past 7 days (conftest)
    admin.create_topics([NewTopic(topic, 6, config=kept)])[topic].result(timeout=30)
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
    received = read_topic(kafka, topic, expected=len(samples), timeout_s=60)
    assert_intact([(m.key(), m.value()) for m in received], samples)


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
