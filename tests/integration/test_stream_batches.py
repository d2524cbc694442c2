"""Batch records through the real worker: a bad sample in the middle of a batch is one dead
letter saying which sample of which record, its neighbours land in the windows; and the
simulator's samples (faults on) packed into batches give the windows the same samples give
as one-sample records."""

from __future__ import annotations

import random
from datetime import timedelta

import orjson
import pytest

from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import pack
from simulators import Emitted, Simulation, SimulationOptions
from tests.conftest import SAMPLE
from tests.integration.test_stream_guards import birth, produce, sample, start
from tests.integration.test_streams import FAULTS, publish, reference, stop, wait_for

pytestmark = pytest.mark.integration


def test_a_bad_sample_in_a_batch_is_one_letter_and_its_neighbours_land(
    stream_settings: Settings,
) -> None:
    device = SAMPLE["device_id"]
    samples = [sample(device, i, timedelta(seconds=5 * i)) for i in range(40)]
    bad = orjson.loads(samples[17])
    bad["count_good"] = bad["count_total"] + 1
    samples[17] = orjson.dumps(bad)
    records = [(Topic.REGISTRY, device.encode(), birth(device))]
    records.append((Topic.TELEMETRY, device.encode(), pack(device, samples)))
    where = produce(stream_settings, records)
    # What the worker must give: the same samples but the bad one, as one-sample records.
    events = [Emitted(Topic.REGISTRY, device.encode(), records[0][2], 0, True)]
    events += [Emitted(Topic.TELEMETRY, device.encode(), s, 0, True) for s in samples]
    del events[1 + 17]
    expected, dead = reference(stream_settings, events, [where[1][0]] * len(events))
    assert dead == 0 and expected
    worker, log = start(stream_settings)
    try:
        _, letters = wait_for(stream_settings, expected, 1, timeout_s=90)
        assert worker.poll() is None, log.read_text()[-3_000:]
    finally:
        stop(worker)
    [letter] = letters
    assert (letter.code, letter.partition, letter.offset) == ("invalid_field", *where[1])
    assert letter.sample_index == 17 and letter.key == device
    assert orjson.loads(letter.payload or "") == bad


def batched(events: list[Emitted], rng: random.Random) -> tuple[list[Emitted], list[Emitted]]:
    """(batch records, the samples in the order the records carry them): each device's
    valid samples cut into records of 1–25 as they come; a malformed one goes alone (its
    device's waiting samples before it), as would a record a gateway could not pack."""
    records: list[Emitted] = []
    flat: list[Emitted] = []
    waiting: dict[bytes, list[Emitted]] = {}
    size: dict[bytes, int] = {}

    def send(key: bytes) -> None:
        pending = waiting.pop(key, [])
        if pending:
            value = pack(key.decode(), [e.value for e in pending])
            records.append(pending[-1]._replace(value=value))
            flat.extend(pending)

    for e in events:
        if e.topic != Topic.TELEMETRY or not e.valid:
            send(e.key)
            records.append(e)
            flat.append(e)
            continue
        waiting.setdefault(e.key, []).append(e)
        if len(waiting[e.key]) >= size.setdefault(e.key, rng.randint(1, 25)):
            send(e.key)
            size[e.key] = rng.randint(1, 25)
    for key in list(waiting):
        send(key)
    return records, flat


def test_batches_give_the_windows_of_the_same_samples_as_one_sample_records(
    stream_settings: Settings,
) -> None:
    options = SimulationOptions(seed=11, devices=10, duration_s=1_200, faults=FAULTS)
    records, flat = batched(list(Simulation(options).run()), random.Random(7))
    assert len(records) < len(flat) / 4  # mostly batches
    partitions = publish(stream_settings, records)
    partition_of = {r.key: p for r, p in zip(records, partitions, strict=True)}
    expected, dead = reference(stream_settings, flat, [partition_of[e.key] for e in flat])
    worker, log = start(stream_settings)
    try:
        _, letters = wait_for(stream_settings, expected, dead, timeout_s=120)
        assert worker.poll() is None, log.read_text()[-3_000:]
    finally:
        stop(worker)
    assert len(letters) == dead
    assert any(d.sample_index > 0 for d in letters)  # refused samples of batches among them
