"""The sink's status line never stops the sink: with no broker to answer, the lag of a
partition it cannot measure is left out (the sink crashed so in the Kafka outage of the
fault matrix)."""

from confluent_kafka import Consumer, TopicPartition

from sinks.sink_status import live_lag


def test_lag_without_a_broker_leaves_the_partition_out() -> None:
    consumer = Consumer(
        {"bootstrap.servers": "127.0.0.1:1", "group.id": "status", "socket.timeout.ms": 1000}
    )
    try:
        consumer.assign([TopicPartition("x.iiot.telemetry", 0)])
        assert live_lag(consumer) == []
    finally:
        consumer.close()
