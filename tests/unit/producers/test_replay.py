"""Replaying a recording: pacing, --rebase and --loop on the records (producers/replay.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.recording import Recorded
from iiot.types import format_ts
from producers.replay import (
    NoTimestamps,
    Shift,
    moved,
    paced,
    passes,
    scan,
    shifts,
)
from tests.unit.simulators.test_simulator_pace import FakeClock

TELEMETRY, REGISTRY = "iiot.telemetry", "iiot.registry"
AT_08_00_05 = 1_795_680_005_000  # 2026-11-26T08:00:05.000Z
NEXT_MIDNIGHT = 1_795_737_600_000  # 2026-11-27T00:00:00.000Z


def at(*timestamps: int | None) -> list[Recorded]:
    return [Recorded(TELEMETRY, b"d", str(i).encode(), t) for i, t in enumerate(timestamps)]


def sample(seq: int, ts: str, device: str = "press-01") -> bytes:
    return orjson.dumps({"v": 1, "device_id": device, "ts": ts, "seq": seq, "state": "running",
                         "count_total": 10, "count_good": 9})  # fmt: skip


def batch(device: str, *samples: tuple[int, str]) -> bytes:
    elements = [{"ts": ts, "seq": seq, "state": "idle", "count_total": 1, "count_good": 1}
                for seq, ts in samples]  # fmt: skip
    return orjson.dumps({"v": 1, "device_id": device, "samples": elements})


BIRTH = orjson.dumps({"v": 1, "device_id": "press-01", "plant_id": "p1", "sample_interval_s": 5.0})


# Pacing


def test_at_speed_1_each_record_waits_for_its_recorded_time() -> None:
    clock = FakeClock()
    records = at(1_000, 1_500, 4_000)
    assert list(paced(records, 1.0, clock=clock, sleep=clock.sleep)) == records
    assert clock.slept == [0.5, 2.5]


def test_at_speed_10_the_waits_are_a_tenth() -> None:
    clock = FakeClock()
    list(paced(at(1_000, 1_500, 4_000), 10.0, clock=clock, sleep=clock.sleep))
    assert clock.slept == pytest.approx([0.05, 0.25])


def test_at_max_nothing_waits() -> None:
    clock = FakeClock()
    records = at(1_000, 900_000, 5_000_000)
    assert list(paced(records, None, clock=clock, sleep=clock.sleep)) == records
    assert clock.slept == []


def test_a_late_record_goes_at_once_and_in_its_place() -> None:
    clock = FakeClock()
    records = at(1_000, 3_000, 2_000, 5_000)  # the third was due before the second
    assert list(paced(records, 1.0, clock=clock, sleep=clock.sleep)) == records
    assert clock.slept == [2.0, 2.0]


def test_records_without_a_timestamp_go_at_once() -> None:
    clock = FakeClock()
    records = at(None, 1_000, None, 3_000)
    assert list(paced(records, 1.0, clock=clock, sleep=clock.sleep)) == records
    assert clock.slept == [2.0]


def test_time_spent_sending_is_not_waited_again() -> None:
    clock = FakeClock()
    for _ in paced(at(0, 1_000, 2_000), 1.0, clock=clock, sleep=clock.sleep):
        clock.now += 0.4  # sending took that long
    assert clock.slept == pytest.approx([0.6, 0.6])


def test_a_clock_far_ahead_goes_at_once_and_holds_nothing_back() -> None:
    clock = FakeClock()
    records = at(0, 1_000, 3_600_000, 2_000, 250_000, 500_000)  # 1 h ahead: a skewed clock
    assert list(paced(records, 1.0, clock=clock, sleep=clock.sleep)) == records
    assert clock.slept == pytest.approx([1.0, 1.0, 248.0, 250.0])
    assert clock.now - 100.0 == pytest.approx(500.0)


@given(st.lists(st.one_of(st.none(), st.integers(0, 300_000)), max_size=30), st.floats(0.5, 100))
def test_pacing_never_reorders_and_ends_when_the_last_is_due(
    timestamps: list[int | None], speed: float
) -> None:
    clock = FakeClock()
    records = at(*timestamps)
    assert list(paced(records, speed, clock=clock, sleep=clock.sleep)) == records
    known = [t for t in timestamps if t is not None]
    due = max((t - known[0] for t in known), default=0) / 1000 / speed
    assert clock.now - 100.0 == pytest.approx(max(due, 0.0))


# Rebase


def rebased(records: list[Recorded], to_ms: int) -> list[Recorded]:
    (shift,) = shifts(scan(records), 1, to_ms)
    return list(passes(lambda: records, [shift]))


def test_rebase_moves_a_sample_and_its_kafka_timestamp() -> None:
    records = [
        Recorded(TELEMETRY, b"press-01", sample(7, "2026-11-26T08:00:05.000Z"), AT_08_00_05),
        Recorded(TELEMETRY, b"press-01", sample(8, "2026-11-26T08:00:10.000Z"), AT_08_00_05 + 5000),
    ]
    first, second = rebased(records, NEXT_MIDNIGHT)
    assert first.value == (
        b'{"v":1,"device_id":"press-01","ts":"2026-11-27T00:00:00.000Z","seq":7,'
        b'"state":"running","count_total":10,"count_good":9}'
    )
    assert second.value == (
        b'{"v":1,"device_id":"press-01","ts":"2026-11-27T00:00:05.000Z","seq":8,'
        b'"state":"running","count_total":10,"count_good":9}'
    )
    assert (first.timestamp_ms, second.timestamp_ms) == (NEXT_MIDNIGHT, NEXT_MIDNIGHT + 5000)


def test_rebase_moves_each_sample_of_a_batch_record() -> None:
    value = batch("press-01", (7, "2026-11-26T08:00:05.000Z"), (8, "2026-11-26T16:30:00.250Z"))
    (record,) = rebased([Recorded(TELEMETRY, b"press-01", value, AT_08_00_05)], NEXT_MIDNIGHT)
    assert record.value == (
        b'{"v":1,"device_id":"press-01","samples":['
        b'{"ts":"2026-11-27T00:00:00.000Z","seq":7,"state":"idle","count_total":1,"count_good":1},'
        b'{"ts":"2026-11-27T08:29:55.250Z","seq":8,"state":"idle","count_total":1,"count_good":1}]}'
    )
    assert record.timestamp_ms == NEXT_MIDNIGHT


def test_rebase_writes_a_zoned_time_as_the_wire_does() -> None:
    value = sample(7, "2026-11-26T16:00:05+08:00")  # the same instant as 08:00:05Z
    (record,) = rebased([Recorded(TELEMETRY, b"press-01", value, AT_08_00_05)], NEXT_MIDNIGHT)
    assert orjson.loads(record.value or b"")["ts"] == "2026-11-27T00:00:00.000Z"


def test_rebase_keeps_bad_values_and_births_byte_for_byte_and_moves_their_timestamps() -> None:
    bad = [
        b'{"v":1,"device_id":"press-01","ts":"2026-11-26T08:00',  # not JSON
        b'{"v": 1, "device_id": "press-01", "ts": "2026-11-26T08:00:05.000Z"}',  # not compact
        sample(7, "2026-11-26T08:00:05"),  # a time without a zone: refused downstream, kept
        sample(7, "yesterday"),
        b"\xff\xfe",
    ]
    records = [Recorded(REGISTRY, b"press-01", BIRTH, AT_08_00_05)]
    records += [Recorded(TELEMETRY, b"press-01", v, AT_08_00_05 + 1000) for v in bad]
    out = rebased(records, NEXT_MIDNIGHT)
    assert [r.value for r in out] == [BIRTH, *bad]
    assert {r.timestamp_ms for r in out[1:]} == {NEXT_MIDNIGHT + 1000}


def test_rebase_keeps_keys_headers_tombstones_and_records_without_timestamps() -> None:
    headers = (("trace", b"abc"), ("empty", None))
    records = [
        Recorded(REGISTRY, b"press-02", None, None, headers),  # a tombstone, no timestamp
        Recorded(TELEMETRY, None, sample(1, "2026-11-26T08:00:05.000Z"), AT_08_00_05, headers),
    ]
    tombstone, keyless = rebased(records, NEXT_MIDNIGHT)
    assert tombstone == records[0]
    assert (keyless.key, keyless.headers, keyless.timestamp_ms) == (None, headers, NEXT_MIDNIGHT)


def test_rebase_without_any_timestamp_is_refused() -> None:
    with pytest.raises(NoTimestamps):
        shifts(scan([Recorded(TELEMETRY, b"d", b"{}")]), 1, NEXT_MIDNIGHT)


def test_without_rebase_or_loop_the_records_go_out_as_they_were_read() -> None:
    records = [
        Recorded(TELEMETRY, b"press-01", sample(7, "2026-11-26T08:00:05.000Z"), AT_08_00_05),
        Recorded(TELEMETRY, b"press-01", b"not json", None),
    ]
    (shift,) = shifts(scan(records, seqs=True))
    assert all(a is b for a, b in zip(passes(lambda: records, [shift]), records, strict=True))


def test_a_rebase_to_the_recorded_time_changes_no_byte() -> None:
    value = sample(7, "2026-11-26T16:00:05+08:00")  # would be respelt if it were rewritten
    records = [Recorded(TELEMETRY, b"press-01", value, AT_08_00_05)]
    assert rebased(records, AT_08_00_05) == records


wire_times = st.datetimes(datetime(1970, 1, 1), datetime(2199, 12, 31), timezones=st.just(UTC)).map(
    lambda t: format_ts(t.replace(microsecond=t.microsecond // 1000 * 1000))
)


@given(
    st.lists(wire_times, min_size=1, max_size=5),
    st.integers(-(10**12), 10**12),  # ±31 years in ms
    st.booleans(),
)
def test_moving_by_d_then_minus_d_gives_the_recorded_bytes_back(
    times: list[str], d: int, as_batch: bool
) -> None:
    value = batch("press-01", *enumerate(times)) if as_batch else sample(1, times[0])
    record = Recorded(TELEMETRY, b"press-01", value, AT_08_00_05)
    there = moved(record, Shift(d))
    assert moved(there, Shift(-d)) == record


# Loop


def test_the_scan_finds_span_and_each_devices_seq_range() -> None:
    records = [
        Recorded(TELEMETRY, b"a", sample(10, "2026-11-26T08:00:05.000Z", "a"), AT_08_00_05),
        Recorded(TELEMETRY, b"b", batch("b", (3, "2026-11-26T08:00:06.000Z"),
                                        (4, "2026-11-26T08:00:09.000Z")), AT_08_00_05 + 1000),
        Recorded(TELEMETRY, b"a", sample(12, "2026-11-26T08:00:10.000Z", "a"), AT_08_00_05 + 5000),
        Recorded(TELEMETRY, b"a", sample(11, "2026-11-26T08:00:07.000Z", "a"), AT_08_00_05 + 2000),
        Recorded(REGISTRY, b"c", BIRTH, None),
    ]  # fmt: skip
    found = scan(records, seqs=True)
    assert found.records == 5 and found.topics == {TELEMETRY, REGISTRY}
    assert found.first_ms == AT_08_00_05
    assert found.span_ms() == 5_000 + 1_000  # highest − lowest, then a second between passes
    assert found.seqs == {"a": (10, 12), "b": (3, 4)}
    assert shifts(found, 3) == [
        Shift(0, {"a": 0, "b": 0}),
        Shift(6_000, {"a": 3, "b": 2}),
        Shift(12_000, {"a": 6, "b": 4}),
    ]


def test_each_pass_moves_times_by_the_span_and_seqs_by_the_devices_range() -> None:
    records = [
        Recorded(REGISTRY, b"a", BIRTH, AT_08_00_05 - 1000),
        Recorded(TELEMETRY, b"a", sample(10, "2026-11-26T08:00:05.000Z", "a"), AT_08_00_05),
        Recorded(TELEMETRY, b"a", batch("a", (11, "2026-11-26T08:00:10.000Z"),
                                        (12, "2026-11-26T08:00:15.000Z")), AT_08_00_05 + 5000),
    ]  # fmt: skip
    out = list(passes(lambda: records, shifts(scan(records, seqs=True), 2)))
    assert out[:3] == records
    birth, one, two = out[3:]
    span = 6_000 + 1_000  # 08:00:04 … 08:00:10 (the batch's record time), then a second
    assert birth == Recorded(REGISTRY, b"a", BIRTH, AT_08_00_05 - 1000 + span)  # sent again
    assert one.value == sample(13, "2026-11-26T08:00:12.000Z", "a")
    assert two.value == batch(
        "a", (14, "2026-11-26T08:00:17.000Z"), (15, "2026-11-26T08:00:22.000Z")
    )
    assert (one.timestamp_ms, two.timestamp_ms) == (AT_08_00_05 + span, AT_08_00_05 + 5000 + span)


def test_loop_and_rebase_together_move_pass_k_by_delta_plus_k_spans() -> None:
    records = [
        Recorded(TELEMETRY, b"a", sample(1, "2026-11-26T08:00:05.000Z", "a"), AT_08_00_05),
        Recorded(TELEMETRY, b"a", sample(2, "2026-11-26T08:00:10.000Z", "a"), AT_08_00_05 + 5000),
    ]
    out = list(passes(lambda: records, shifts(scan(records, seqs=True), 2, NEXT_MIDNIGHT)))
    times = [orjson.loads(r.value or b"")["ts"] for r in out]
    assert times == [
        "2026-11-27T00:00:00.000Z",
        "2026-11-27T00:00:05.000Z",
        "2026-11-27T00:00:06.000Z",
        "2026-11-27T00:00:11.000Z",
    ]
    assert [orjson.loads(r.value or b"")["seq"] for r in out] == [1, 2, 3, 4]
    assert [r.timestamp_ms - NEXT_MIDNIGHT for r in out if r.timestamp_ms] == [0, 5000, 6000, 11000]
