"""The Publisher against the shared broker: samples arrive intact, keyed by device, in order;
an invalid reading is refused with a clear error and lands in the dead letters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iiot import topics
from iiot.contract import decode
from iiot.messages import Sample
from iiot.results import DeadLetter
from iiot.settings import Settings
from producers.publisher import Publisher, ReadingRejected
from tests.integration.sample_maker import sample
from tests.integration.telemetry_reader import (
    assert_once_in_order,
    ids_in_arrival_order,
    one_sample_records,
    read_topic,
)

pytestmark = pytest.mark.integration

N_SAMPLES = 20_000
N_DEVICES = 50


def test_publisher_delivers_every_sample_intact_and_in_order(
    kafka: Settings, tmp_path: Path
) -> None:
    samples = [sample(i, N_DEVICES) for i in range(N_SAMPLES)]
    with Publisher(kafka, tmp_path / "spool.sqlite") as publisher:
        for s in samples[:-100]:
            publisher.publish_sample(s)
        for s in samples[-100:]:  # readings from outside: JSON text and dicts, validated
            publisher.publish_reading(s.model_dump_json())
        assert publisher.flush(30) == 0
        counters = publisher.counters
    assert counters.delivered == counters.accepted == N_SAMPLES
    assert counters.spooled == counters.failed == counters.pending == 0

    received = read_topic(kafka, topics.name(topics.Topic.TELEMETRY, kafka), N_SAMPLES)
    assert_once_in_order(ids_in_arrival_order(received), {(s.device_id, s.seq) for s in samples})
    by_id = {(s.device_id, s.seq): s for s in samples}
    for record in one_sample_records(received)[:500]:  # a batch record's samples each alone
        s = decode(Sample, record.value)
        assert by_id[(s.device_id, s.seq)] == s


def test_an_invalid_reading_is_refused_counted_and_dead_lettered(
    kafka: Settings, tmp_path: Path
) -> None:
    good = sample(0, 1).model_dump(mode="json")
    bad = {**good, "device_id": "yt-dead-letter-press01", "count_good": 10, "count_total": 3}
    with Publisher(kafka, tmp_path / "spool.sqlite") as publisher:
        with pytest.raises(ReadingRejected) as refused:
            publisher.publish_reading(bad)
        with pytest.raises(ReadingRejected) as broken:
            publisher.publish_reading(b'{"device_id": "yt-dead-letter-press02", "seq": ')
        assert publisher.flush(30) == 0
        assert publisher.counters.invalid == publisher.counters.dead_lettered == 2
    assert refused.value.code == "invalid_field"
    assert "count_good: must not exceed count_total (3)" in refused.value.reason
    assert broken.value.code == "invalid_json"

    broken_payload = '{"device_id": "yt-dead-letter-press02", "seq": '
    letters = [
        (message.key(), decode(DeadLetter, message.value()))
        for message in read_topic(kafka, topics.name(topics.Topic.DEADLETTER, kafka), 2)
    ]
    ours = {
        letter.code: (key, letter)
        for key, letter in letters
        if "yt-dead-letter-" in (letter.payload or "")
    }
    assert ours.keys() == {"invalid_field", "invalid_json"}
    (first_key, first), (second_key, second) = ours["invalid_field"], ours["invalid_json"]
    assert first_key == b"yt-dead-letter-press01"
    assert (first.stage, first.code, first.topic) == ("producer", "invalid_field", "iiot.telemetry")
    assert first.reason == refused.value.reason
    assert json.loads(first.payload or "") == bad
    # Unparseable JSON has no device_id to key by; its bytes are kept as they came.
    assert (second_key, second.code, second.payload) == (None, "invalid_json", broken_payload)
