"""Which records the flows take (streams/positions.py): each partition's in offset order,
each once, from where Faust sought it. The rebalances themselves are in the integration
tests (test_stream_guards, test_streams' SIGKILL test); here is the rule alone."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.types import TP

from streams.positions import SEEK_AGAIN_S, Positions

T0 = TP("iiot.telemetry", 0)


class Thread:
    """The consumer's own thread, where seeks are made (not Faust's `Consumer.seek`)."""

    def __init__(self, sought: list[tuple[TP, int]]) -> None:
        self.sought = sought

    def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))

    async def call_thread(self, fun, *args):  # type: ignore[no-untyped-def]
        return fun(*args)


class Consumer:
    """What Positions uses of Faust's consumer: its seeks are recorded, not made."""

    def __init__(self, committed: dict[TP, int | None], first: int = 0) -> None:
        self.committed, self.first = committed, first
        self._gap: dict[TP, object] = {}
        self.sought: list[tuple[TP, int]] = []
        self._thread = Thread(self.sought)
        self._read_offset: dict[TP, int | None] = {}

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:  # the log's first offset
        return {tp: self.first for tp in tps}


def positions(committed: dict[TP, int | None], first: int = 0):
    consumer = Consumer(committed, first)
    reread: list[list[TP]] = []
    app = SimpleNamespace(consumer=consumer)
    p = Positions(app, [T0.topic], reread.append)  # type: ignore[arg-type]
    p.follow_seeks()
    asyncio.run(consumer.seek_to_committed())  # what Faust's perform_seek calls
    return p, consumer, reread


def record(offset: int, tp: TP = T0):
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


def takes(p: Positions, offsets: list[int]) -> list[int]:
    return [o for o in offsets if p.take(record(o))]  # type: ignore[arg-type]


def test_nothing_is_taken_before_faust_has_sought_the_partition() -> None:
    consumer = Consumer({T0: 40})
    p = Positions(SimpleNamespace(consumer=consumer), [T0.topic], lambda _: None)  # type: ignore[arg-type]
    p.follow_seeks()
    assert takes(p, [41, 42]) == []  # read while the tables recover
    asyncio.run(consumer.seek_to_committed())
    assert takes(p, [40, 41, 42]) == [40, 41, 42]


def test_from_the_committed_offset_in_order_each_once() -> None:
    p, _, reread = positions({T0: 10})
    assert reread == [[T0]]
    assert takes(p, [10, 11, 11, 9, 12]) == [10, 11, 12]


def test_faust_seeking_to_the_commit_again_does_not_take_records_twice() -> None:
    # Faust seeks to the committed offsets twice in one rebalance (and on a fetch while
    # its flow is held): what was taken since is passed over, not judged again.
    p, consumer, reread = positions({T0: 10})
    assert takes(p, [10, 11, 12]) == [10, 11, 12]
    asyncio.run(consumer.seek_to_committed())
    assert reread == [[T0], []]
    assert takes(p, [10, 11, 12, 13]) == [13]


def test_a_partition_never_committed_starts_at_its_first_offset() -> None:
    p, _, _ = positions({T0: None}, first=5)
    assert p.next[T0] == 5
    p, _, _ = positions({T0: 0}, first=0)  # aiokafka does not seek to a commit of 0
    assert takes(p, [0, 1]) == [0, 1]


def test_records_after_a_gap_wait_for_the_seek_back() -> None:
    p, consumer, _ = positions({T0: 10})
    consumer._gap[T0] = "Faust would count 11..13 as acked"
    assert takes(p, [10, 14, 15]) == [10]
    assert T0 not in consumer._gap
    asyncio.run(p.seek_back(now=100.0))
    asyncio.run(p.seek_back(now=100.0 + SEEK_AGAIN_S / 2))  # one seek at a time
    assert consumer.sought == [(T0, 11)]  # on the consumer's thread
    assert consumer._read_offset[T0] == 11  # Faust's own `seek` sets it too
    assert takes(p, [16, 11, 12, 13, 14, 15, 16]) == [11, 12, 13, 14, 15, 16]
    assert p.gaps == {}


def test_a_seek_back_that_brings_nothing_is_made_again() -> None:
    p, consumer, _ = positions({T0: 10})
    assert takes(p, [12, 12]) == []  # a gap is never taken for one: offsets are dense
    asyncio.run(p.seek_back(now=100.0))
    assert takes(p, [12]) == []
    asyncio.run(p.seek_back(now=100.0 + SEEK_AGAIN_S))
    assert consumer.sought == [(T0, 10), (T0, 10)]


def test_records_deleted_before_they_were_read_are_passed_by() -> None:
    p, consumer, _ = positions({T0: 10})
    consumer.first = 13  # retention deleted 10..12
    assert takes(p, [13]) == []
    asyncio.run(p.seek_back(now=100.0))
    assert consumer.sought == [(T0, 13)]
    assert takes(p, [13, 14]) == [13, 14]


def test_a_compacted_topic_is_taken_across_its_gaps() -> None:
    registry = TP("iiot.registry", 0)
    consumer = Consumer({registry: 3})
    app = SimpleNamespace(consumer=consumer)
    p = Positions(app, [registry.topic], lambda _: None, compacted=[registry.topic])  # type: ignore[arg-type]
    p.follow_seeks()
    asyncio.run(consumer.seek_to_committed())
    assert [o for o in [3, 7, 7, 9] if p.take(record(o, registry))] == [3, 7, 9]  # type: ignore[arg-type]
    assert consumer.sought == []


def test_revoked_partitions_wait_for_their_next_seek() -> None:
    p, consumer, _ = positions({T0: 10})
    assert takes(p, [10]) == [10]
    p.forget([T0])
    assert takes(p, [11]) == []
    consumer.committed[T0] = 11
    asyncio.run(consumer.seek_to_committed())
    assert takes(p, [11]) == [11]


def test_other_topics_are_not_followed() -> None:
    other = TP("iiot.streams.something", 0)
    p, _, reread = positions({T0: 10, other: 3})
    assert reread == [[T0]] and other not in p.next
