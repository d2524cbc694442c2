"""What the Kafka client gives back at an outage goes to the spool in handover order, with
the event times it was handed over with (the client keeps neither)."""

from __future__ import annotations

import time
from weakref import WeakKeyDictionary

from producers.held import Held
from producers.spool import Record

_count: WeakKeyDictionary[Held, int] = WeakKeyDictionary()


def handed(held: Held, *values: bytes, key: bytes = b"press01") -> None:
    """Hand records over as the Publisher does; the n-th one handed has event time 1000 + n."""
    for value in values:
        _count[held] = number = _count.get(held, 0) + 1
        held.append(("iiot.telemetry", key, value, 1_000 + number))


def test_what_comes_back_is_put_back_in_handover_order_with_its_times() -> None:
    held = Held(100)
    handed(held, b"a", b"b", b"c", b"d")
    back = [("iiot.telemetry", b"press01", v) for v in (b"d", b"b", b"c")]  # any order
    assert held.take_back(back) == [
        Record("iiot.telemetry", b"press01", b"b", 1_002),
        Record("iiot.telemetry", b"press01", b"c", 1_003),
        Record("iiot.telemetry", b"press01", b"d", 1_004),
    ]
    assert len(held) == 0  # the client holds nothing any more


def test_of_identical_records_the_newest_is_the_one_that_came_back() -> None:
    held = Held(100)
    handed(held, b"dup", b"x", b"dup")  # an injected duplicate, sent again later
    [record] = held.take_back([("iiot.telemetry", b"press01", b"dup")])
    assert record.timestamp_ms == 1_003


def test_a_record_older_than_the_ring_goes_first_stamped_when_it_came_back() -> None:
    held = Held(2)
    handed(held, b"old", b"y", b"z")  # "old" fell out of the ring
    before = time.time_ns() // 1_000_000
    back = held.take_back([("iiot.telemetry", b"press01", v) for v in (b"z", b"old")])
    assert [r.value for r in back] == [b"old", b"z"]
    assert back[0].timestamp_ms >= before and back[1].timestamp_ms == 1_003


def test_the_event_time_of_a_refused_record_is_found_by_its_bytes() -> None:
    held = Held(100)
    handed(held, b"a", b"b")
    handed(held, b"a", key=b"smt02")
    assert held.event_time("iiot.telemetry", b"press01", b"a") == 1_001
    assert held.event_time("iiot.telemetry", b"smt02", b"a") == 1_003
    assert held.event_time("iiot.telemetry", b"press01", b"never") is None


def test_a_batch_record_kept_by_its_hash_is_found_by_its_bytes() -> None:
    """The Publisher keeps a batch record's hash, not its (large) bytes."""
    held = Held(100)
    batch = b'{"v":1,"device_id":"press01","samples":[{"seq":1},{"seq":2}]}'
    handed(held, b"a")
    held.append(("iiot.telemetry", b"press01", hash(batch), 1_002))
    handed(held, b"c")
    back = [("iiot.telemetry", b"press01", v) for v in (b"c", batch)]
    assert [r.value for r in held.take_back(back)] == [batch, b"c"]
    held.append(("iiot.telemetry", b"press01", hash(batch), 1_005))
    assert held.event_time("iiot.telemetry", b"press01", batch) == 1_005
