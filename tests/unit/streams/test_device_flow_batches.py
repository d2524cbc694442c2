"""Batch records in the device flow: each sample on its own, exactly as if it were its own
record. Any batching of a device's stream gives the same windows, state and dead letters as
one-sample records; a batch refused whole is one letter; a refused sample is a letter with
its sample_index and the sample as a record of its own."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iiot.topics import Topic
from iiot.wire.sample_batch import pack, sample_json
from streams.device_state import DeviceState
from streams.held import HELD_FOR_MS, MAX_HELD_PER_DEVICE
from tests.unit.streams.flow_harness import Worker, birth, failing_at_seq, sample

DEVICE = "qd-haier-p1-l2-press03"
KNOWN = "qd-haier-p1-l2-press04"


def element(value: dict[str, Any]) -> dict[str, Any]:
    """A sample as a batch record carries it: without `v` and `device_id`."""
    return {k: v for k, v in value.items() if k not in ("v", "device_id")}


def batch_record(device_id: str, elements: list[Any]) -> bytes:
    return orjson.dumps({"v": 1, "device_id": device_id, "samples": elements})


# What can happen to a sample on its way: most arrive as made.
FAULTS = ["ok"] * 6 + ["duplicate", "swapped", "late", "future", "bad_count", "bad_state",
                       "not_an_object", "unknown_field", "no_seq"]  # fmt: skip


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Any], int | None, list[int]]:
    """(the device's samples as batch elements, how many come before its birth (None:
    never), the sizes of the records they are cut into)."""
    n = draw(st.integers(1, 60))
    made = [element(sample(DEVICE, seq, 5 * seq, state=draw(st.sampled_from(STATES))))
            for seq in range(1, n + 1)]  # fmt: skip
    sent: list[Any] = []
    for i, value in enumerate(made):
        fault = draw(st.sampled_from(FAULTS))
        if fault == "duplicate" and sent:
            sent += [value, draw(st.sampled_from(sent))]
            continue
        if fault == "swapped" and sent:
            sent.insert(-1, value)
            continue
        if fault == "late":
            value = value | {"ts": sample(DEVICE, 0, 5 * i - 900)["ts"]}
        elif fault == "future":
            value = value | {"ts": sample(DEVICE, 0, 5 * i + 7_200)["ts"]}
        elif fault == "bad_count":
            value = value | {"count_good": value["count_total"] + 1}
        elif fault == "bad_state":
            value = value | {"state": "exploded"}
        elif fault == "not_an_object":
            value = draw(st.sampled_from([7, "x", None, [1]]))
        elif fault == "unknown_field":
            value = value | {"colour": "red"}
        elif fault == "no_seq":
            value = {k: v for k, v in value.items() if k != "seq"}
        sent.append(value)
    birth_after = draw(st.none() | st.integers(0, len(sent)))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(sent)), max_size=len(sent)))))
    if birth_after:
        cuts = sorted({*cuts, birth_after})
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(sent)], strict=True) if b > a]
    return sent, birth_after, sizes


STATES = ["running", "running", "running", "idle", "down", "setup", "planned_stop"]


def run(elements: list[Any], birth_after: int | None, sizes: list[int], single: bool) -> Worker:
    """The stream through one worker: one-sample records, or records of `sizes` samples
    (a record of one sample alternately as a Sample and as a batch of one)."""
    worker = Worker()
    worker.birth(KNOWN)
    worker.sample(sample(KNOWN, 1, 0))  # the partition's time is known
    at = 0
    for size in [1] * len(elements) if single else sizes:
        if at == birth_after:
            worker.birth(DEVICE)
        part = elements[at : at + size]
        if single or (size == 1 and at % 2):
            worker.sample(sample_json(DEVICE, part[0]), key=DEVICE)
        else:
            worker.sample(batch_record(DEVICE, part), key=DEVICE)
        at += size
    if at == birth_after:
        worker.birth(DEVICE)
    worker.tick()
    return worker


def letters(worker: Worker) -> list[tuple[Any, ...]]:
    """The dead letters, without where in its record a sample was (that is the batching)."""
    return [(d.code, d.reason, d.key, d.payload, d.partition) for d in worker.letters()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_any_batching_of_a_device_stream_gives_the_same_windows_and_letters(
    stream: tuple[list[Any], int | None, list[int]],
) -> None:
    elements, birth_after, sizes = stream
    one_by_one = run(elements, birth_after, sizes, single=True)
    batched = run(elements, birth_after, sizes, single=False)
    assert batched.windows() == one_by_one.windows()
    assert letters(batched) == letters(one_by_one)
    # Offline alarms may come up to a record's span later with batch records (the sweep
    # measures silence from the time a record begins): the run may end before they do.
    counted = [
        {k: n for k, n in w.app.counters.items() if k != "alarms"} for w in (batched, one_by_one)
    ]
    assert counted[0] == counted[1]
    tables = [
        worker.app.tables["device-state"].data.get(DEVICE) for worker in (batched, one_by_one)
    ]
    assert tables[0] == tables[1]


def test_a_bad_sample_in_a_batch_is_one_letter_and_its_neighbours_apply() -> None:
    worker, alone = Worker(), Worker()
    made = [element(sample(DEVICE, seq, 5 * seq)) for seq in range(1, 21)]
    bad = made[7] | {"count_good": made[7]["count_total"] + 5}
    for w in (worker, alone):
        w.birth(DEVICE)
    at = worker.sample(batch_record(DEVICE, [*made[:7], bad, *made[8:]]), key=DEVICE)
    for value in made[:7] + made[8:]:
        alone.sample(sample_json(DEVICE, value), key=DEVICE)
    worker.tick()
    alone.tick()
    [letter] = worker.letters()
    assert (letter.code, letter.offset, letter.sample_index, letter.key) == (
        "invalid_field", at, 7, DEVICE
    )  # fmt: skip
    assert letter.payload == sample_json(DEVICE, bad).decode()
    assert "count_good" in letter.reason
    assert worker.windows() and worker.windows() == alone.windows()


def test_a_batch_refused_whole_is_one_letter_for_the_record() -> None:
    worker = Worker()
    worker.birth(DEVICE)
    made = [element(sample(DEVICE, seq, 5 * seq)) for seq in range(1, 4)]
    records = {
        "invalid_json": b'{"v":1,"device_id":"x","samples":[{',
        "invalid_field": orjson.dumps({"v": 1, "device_id": DEVICE, "samples": []}),
        "key_mismatch": batch_record(DEVICE, made),
    }
    offsets = {
        code: worker.sample(value, key="zb-someone-else" if code == "key_mismatch" else DEVICE)
        for code, value in records.items()
    }
    worker.tick()
    assert [(d.code, d.offset, d.sample_index) for d in worker.letters()] == [
        (code, offset, 0) for code, offset in offsets.items()
    ]
    assert worker.letters()[-1].payload == records["key_mismatch"].decode()
    assert worker.windows() == {}


def test_held_samples_of_a_batch_say_which_sample_of_which_record() -> None:
    worker = Worker()
    worker.birth(KNOWN)
    made = [element(sample(DEVICE, seq, seq)) for seq in range(MAX_HELD_PER_DEVICE + 2)]
    first = worker.sample(batch_record(DEVICE, made[:3]), key=DEVICE)
    over = worker.sample(batch_record(DEVICE, made[3:]), key=DEVICE)
    for minute in range(HELD_FOR_MS // 60_000 + 20):  # past the last one held (1,001 s)
        worker.sample(sample(KNOWN, minute + 1, 60 * minute))
    worker.tick()
    letters = [(d.offset, d.sample_index, orjson.loads(d.payload or "")["seq"])
               for d in worker.letters()]  # fmt: skip
    assert all(d.code == "unknown_device" for d in worker.letters())
    # Over the bound: the record's last two samples; expired: all it held, the first first.
    assert letters[:2] == [(over, MAX_HELD_PER_DEVICE - 3 + i, MAX_HELD_PER_DEVICE + i)
                           for i in range(2)]  # fmt: skip
    assert letters[2:5] == [(first, i, i) for i in range(3)]
    assert len(letters) == MAX_HELD_PER_DEVICE + 2
    assert worker.flow.held.copies == {}
    assert Topic.TELEMETRY.value == worker.letters()[0].topic


def test_a_sample_that_makes_the_flow_raise_is_one_letter_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, without = Worker(), Worker()
    for w in (worker, without):
        w.birth(DEVICE)
    made = [element(sample(DEVICE, seq, 5 * seq)) for seq in range(1, 40)]
    monkeypatch.setattr(DeviceState, "accept", failing_at_seq(5))
    at = worker.sample(batch_record(DEVICE, made), key=DEVICE)
    worker.tick()
    for value in made[:4] + made[5:]:
        without.sample(sample_json(DEVICE, value), key=DEVICE)
    without.tick()
    [letter] = worker.letters()
    assert (letter.code, letter.offset, letter.sample_index) == ("internal_error", at, 4)
    assert letter.payload == sample_json(DEVICE, made[4]).decode()
    assert worker.windows() and worker.windows() == without.windows()


def offline_alarms(span_s: int, silent_from_s: int | None = None) -> list[tuple[str, str]]:
    """Two devices sampling every 2 s, sent as records of `span_s` seconds each, device by
    device (as a Publisher packs them); DEVICE says nothing from `silent_from_s` on."""
    worker = Worker()
    for device_id in (KNOWN, DEVICE):
        worker.take(Topic.REGISTRY, device_id.encode(), birth(device_id, sample_interval_s=2.0))
    for start in range(0, 600, span_s):
        for device_id in (KNOWN, DEVICE):
            if device_id == DEVICE and silent_from_s is not None and start >= silent_from_s:
                continue
            values = [orjson.dumps(sample(device_id, t // 2 + 1, t))
                      for t in range(start, start + span_s, 2)]  # fmt: skip
            worker.sample(values[0] if span_s == 2 else pack(device_id, values), key=device_id)
        worker.tick()
    alarms = [orjson.loads(value) for value in worker.on(Topic.ALARMS)]
    return [(a["device_id"], a["status"]) for a in alarms if a["kind"] == "offline"]


@pytest.mark.parametrize("span_s", [2, 12, 60])
def test_a_record_spanning_seconds_makes_no_device_look_offline(span_s: int) -> None:
    """The sweep measures silence against the time a record begins at: the other device's
    record over the same seconds is still to come (before: 2,831 offline alarms raised and
    cleared for 20 devices in 30 min of 12 s records)."""
    assert offline_alarms(span_s) == []


@pytest.mark.parametrize("span_s", [2, 12, 60])
def test_a_device_that_goes_silent_is_offline_among_batch_records(span_s: int) -> None:
    assert offline_alarms(span_s, silent_from_s=300) == [(DEVICE, "raised")]
