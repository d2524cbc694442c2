"""The Kafka client's settings, and which of its errors mean "try again later"."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

from iiot.kafka_security import kafka_config
from iiot.settings import Settings

# A record that failed with one of these may well go through later: the broker was away,
# slow, or the client gave it back. Any other error is the broker refusing it for good.
_TRANSIENT = {
    KafkaError._MSG_TIMED_OUT,
    KafkaError._PURGE_QUEUE,
    KafkaError._PURGE_INFLIGHT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
    KafkaError._FATAL,
}


def client_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings: durable and ordered first, then throughput (bench/producer.py)."""
    return {
        **kafka_config(settings),  # bootstrap.servers and security (iiot/kafka_security.py)
        "enable.idempotence": True,  # no duplicates or reordering from the client's retries
        "acks": "all",
        "compression.type": settings.producer_compression,
        "linger.ms": settings.producer_linger_ms,
        "batch.size": 1_000_000,  # per partition, below the broker's 1 MB message.max.bytes
        "batch.num.messages": 10_000,
        # What the client may hold; the Publisher remembers as many (producers/held.py).
        "queue.buffering.max.messages": 100_000,
        # Failures only: a Python call per acknowledged record cost ~1.5 µs of the ~4 µs a
        # record takes (bench/README.md); the Publisher counts deliveries without it.
        "delivery.report.only.error": True,
        # The same partitioner as the Java client and aiokafka (Faust): one device, one
        # partition, whichever client wrote it.
        "partitioner": "murmur2_random",
        # Connection failures reach error_cb too; the client's own log would repeat them.
        "logger": logging.getLogger("producers.librdkafka"),
        "log_level": 2,
    }


def transient(err: KafkaError) -> bool:
    return err.code() in _TRANSIENT or err.retriable()
