"""The device flow's dead letters, driven directly: samples of a device whose birth never
comes (held, then expired; or over the held bounds), samples keyed by another device, and a
record that makes the flow itself raise (one letter, and the flow goes on)."""

from __future__ import annotations

import orjson
import pytest

from iiot.topics import Topic
from streams.device_state import DeviceState
from streams.held import HELD_FOR_MS, MAX_HELD_PER_DEVICE
from tests.unit.streams.flow_harness import Worker, failing_at_seq, sample

KNOWN = "qd-haier-p1-l2-press03"
GHOST = "zb-ghost-p1-l1-press01"


def test_a_sample_whose_birth_never_comes_is_held_then_one_dead_letter() -> None:
    worker = Worker()
    worker.birth(KNOWN)
    held_at = worker.sample(sample(GHOST, 1, 0))
    for minute in range(HELD_FOR_MS // 60_000):  # the partition's time, a minute a sample
        worker.sample(sample(KNOWN, minute + 1, 60 * minute))
    worker.tick()
    assert worker.letters() == [] and worker.app.counters["held"] == 1
    worker.sample(sample(KNOWN, 100, HELD_FOR_MS / 1000 + 1))  # now it is held too long
    worker.tick()
    [letter] = worker.letters()
    assert (letter.code, letter.topic, letter.partition, letter.offset, letter.key) == (
        "unknown_device", Topic.TELEMETRY.value, 0, held_at, GHOST
    )  # fmt: skip
    assert "held past its time" in letter.reason
    assert orjson.loads(letter.payload or "")["seq"] == 1  # the reading held
    assert not worker.flow.held.copies  # and no longer held
    for minute in range(31, 80):  # nothing more about it
        worker.sample(sample(KNOWN, 100 + minute, 60 * minute))
    worker.tick()
    assert len(worker.letters()) == 1


def test_a_held_sample_is_applied_when_its_birth_comes() -> None:
    worker, alone = Worker(), Worker()
    worker.sample(sample(GHOST, 1, 0))
    worker.birth(GHOST)
    alone.birth(GHOST)
    alone.sample(sample(GHOST, 1, 0))
    for seq in range(2, 30):
        worker.sample(sample(GHOST, seq, 5 * seq))
        alone.sample(sample(GHOST, seq, 5 * seq))
    worker.tick()
    alone.tick()
    assert worker.letters() == [] and worker.windows() == alone.windows()


def test_samples_over_the_held_bound_are_one_dead_letter_each() -> None:
    worker = Worker()
    for seq in range(MAX_HELD_PER_DEVICE):
        worker.sample(sample(GHOST, seq, seq))
    over = [worker.sample(sample(GHOST, seq, seq)) for seq in range(MAX_HELD_PER_DEVICE, 1_002)]
    worker.tick()
    letters = worker.letters()
    assert [(d.code, d.offset, d.key) for d in letters] == [
        ("unknown_device", offset, GHOST) for offset in over
    ]
    assert f"{MAX_HELD_PER_DEVICE} samples of it held already" in letters[0].reason
    assert orjson.loads(letters[0].payload or "")["seq"] == MAX_HELD_PER_DEVICE  # the record


def test_a_sample_keyed_by_another_device_is_one_dead_letter_and_applies_nowhere() -> None:
    worker = Worker()
    worker.birth(KNOWN)
    worker.birth("zb-someone-else")
    at = worker.sample(sample(KNOWN, 1, 0), key="zb-someone-else")
    worker.tick()
    [letter] = worker.letters()
    assert (letter.code, letter.offset, letter.key) == ("key_mismatch", at, "zb-someone-else")
    assert f"is not the device_id {KNOWN!r}" in letter.reason
    assert worker.windows() == {} and worker.app.counters["accepted"] == 0


def test_a_record_that_makes_the_flow_raise_is_one_letter_and_the_flow_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, without = Worker(), Worker()
    for w in (worker, without):
        w.birth(KNOWN)
    monkeypatch.setattr(DeviceState, "accept", failing_at_seq(5))
    offsets = {seq: worker.sample(sample(KNOWN, seq, 5 * seq)) for seq in range(1, 40)}
    worker.tick()
    for seq in range(1, 40):  # the samples before it in the batch stay applied, once
        if seq != 5:
            without.sample(sample(KNOWN, seq, 5 * seq))
    without.tick()
    [letter] = worker.letters()
    assert (letter.code, letter.offset, letter.key) == ("internal_error", offsets[5], KNOWN)
    assert letter.reason == "RuntimeError: a bug met seq 5"
    assert worker.windows() and worker.windows() == without.windows()
    assert worker.app.counters["accepted"] == 38
