"""A private broker can be stopped and started without touching the shared stack; its data
survives `down` and `up`."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer

from iiot import kafka_admin, topics
from tests.integration.private_stack import PrivateStack

pytestmark = pytest.mark.integration


def test_private_broker_keeps_its_data_across_down_and_up(private_stack: PrivateStack) -> None:
    private_stack.up("kafka")
    settings = private_stack.settings()
    kafka_admin.ensure_topics(settings)
    topic = topics.name(topics.Topic.REGISTRY, settings)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    producer.produce(topic, b"{}", b"yt-dev-1")
    assert producer.flush(15) == 0

    private_stack.down("kafka")
    with pytest.raises(kafka_admin.BrokerUnreachable):
        kafka_admin.broker_summary(settings, timeout_s=2)
    private_stack.up("kafka")

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "private-stack-test",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        messages = []
        for _ in range(30):
            messages += [m for m in consumer.consume(10, timeout=1) if m.error() is None]
            if messages:
                break
    finally:
        consumer.close()
    assert [m.key() for m in messages] == [b"yt-dev-1"]
