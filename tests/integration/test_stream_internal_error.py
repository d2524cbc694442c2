"""A record that makes the stream worker itself raise, through the real worker: one
`internal_error` dead letter for it, and the worker goes on with the records after it.

What raises: the worker's own state of one device is unreadable (its birth in the births
table's changelog is not a DeviceBirth), as a bug writing state would leave it. Its
sample cannot be applied; the samples of the other device are."""

from __future__ import annotations

from datetime import timedelta

from confluent_kafka import Producer
from faust.serializers import codecs

from iiot import kafka_admin
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Emitted
from streams.app import create_app, internal_topics
from tests.conftest import SAMPLE
from tests.integration.test_stream_guards import birth, produce, sample, start
from tests.integration.test_streams import publish, reference, stop, wait_for

BROKEN = "zb-broken-p1-l1-press01"


def test_a_record_the_worker_cannot_apply_is_one_letter_and_the_rest_go_on(
    stream_settings: Settings,
) -> None:
    device = SAMPLE["device_id"]
    [(partition, offset)] = produce(
        stream_settings, [(Topic.TELEMETRY, BROKEN.encode(), sample(BROKEN, 1, timedelta(0)))]
    )
    app = create_app(stream_settings)
    made = internal_topics(app)
    kafka_admin.ensure_named_topics(made, stream_settings)
    births = app.tables["births"]
    key = codecs.dumps(births.key_serializer, BROKEN)  # as the worker writes its keys
    producer = Producer({"bootstrap.servers": stream_settings.kafka_bootstrap})
    topic = births.changelog_topic.get_topic_name()
    producer.produce(topic, b"not a DeviceBirth", key, partition=partition)
    assert producer.flush(30) == 0
    events = [Emitted(Topic.REGISTRY, device.encode(), birth(device), 0, True)]
    events += [
        Emitted(
            Topic.TELEMETRY, device.encode(), sample(device, i, timedelta(seconds=5 * i)), 0, True
        )
        for i in range(40)
    ]
    partitions = publish(stream_settings, events)
    expected, dead = reference(stream_settings, events, partitions)
    assert dead == 0 and expected
    worker, log = start(stream_settings)
    try:
        _, letters = wait_for(stream_settings, expected, 1, timeout_s=90)
        assert worker.poll() is None, log.read_text()[-3_000:]
    finally:
        stop(worker)
    [letter] = letters
    assert (letter.code, letter.partition, letter.offset) == ("internal_error", partition, offset)
    assert letter.key == BROKEN and letter.reason.startswith("ContractError: ")
    assert "record" in log.read_text() and "failed" in log.read_text()
