"""Where a worker reads on in a partition its consumer group has not committed yet.

After every rebalance Faust seeks each partition back to its committed offset, because it
may have dropped records it had fetched (its queues are cleared while the flow is held).
aiokafka seeks only where an offset above 0 was committed: a partition without one goes on
from wherever the fetcher had got to, and the dropped records are lost. A worker restarted
before its first commit lost all of a partition's records that way (the SIGKILL test of
tests/integration/test_streams.py, about 1 run in 5 under load).

`Positions` notes the next offset this worker's flows have to take in each partition, and
an uncommitted partition is sought there (its beginning if none was taken) — never back
over records already taken, whose verdicts would then be given again by a later clock.
A record delivered again anyway (fetched before the seek) is passed over.

Records were still seen dropped after that seek now and then (fetched, never handed to the
agent; Faust's reasons vary). So the emit timer also checks: a partition whose fetch
position stays ahead of its next offset to take, with nothing taken for STALL_TICKS ticks,
is sought back to that offset.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import faust
from faust.types import TP, EventT

log = logging.getLogger(__name__)

STALL_TICKS = 3  # emit-timer ticks (1 s each by default) with records fetched, none taken


class Positions:
    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)  # what the flows read: Faust's other topics are its own
        self.next: dict[TP, int] = {}  # partition → the next offset to take
        self.stalled: dict[TP, tuple[int, int]] = {}  # partition → (next offset, ticks)
        self.gap: dict[TP, int] = {}  # partition → the first offset seen after a gap
        self.back: dict[TP, int] = {}  # partitions to seek back on the next tick

    def take(self, event: EventT[Any]) -> bool:
        """Whether to process this record: the next one of its partition. Else it is passed
        over, not acked: one delivered again (taken already), one before the partition's
        start is known (it is sought there, and comes again), one after a gap (records
        dropped before it: the next timer tick seeks back to them)."""
        message = event.message
        tp, offset = message.tp, message.offset
        expected = self.next.get(tp)
        if expected is None or offset < expected:
            return False
        if offset > expected and self.gap.get(tp) != offset:
            self.gap[tp] = offset  # if the seek back brings it first again, the log has
            self.back[tp] = expected  # no records in between (retention): take it then
            return False
        self.next[tp] = offset + 1
        return True

    def forget(self, tps: Iterable[TP]) -> None:
        """Revoked: whoever holds them next resumes from the commits and the changelogs."""
        for tp in tps:
            for positions in (self.next, self.stalled, self.gap, self.back):
                positions.pop(tp, None)

    async def reseek_stalled(self, consumer: Any) -> None:
        """Seek back the partitions fetched ahead of what was taken, and stuck there."""
        if not consumer.flow_active:  # a rebalance: Faust seeks when it is done
            return
        back, self.back = self.back, {}
        for tp, next_offset in list(self.next.items()):
            try:
                position = await consumer.position(tp)
            except Exception:  # e.g. no longer assigned: the rebalance handles it
                continue
            before, ticks = self.stalled.get(tp, (None, 0))
            if position is None or position <= next_offset or before != next_offset:
                self.stalled[tp] = next_offset, 0
                continue
            if ticks + 1 < STALL_TICKS:
                self.stalled[tp] = next_offset, ticks + 1
                continue
            self.stalled[tp] = next_offset, 0
            back[tp] = next_offset
        if back:
            log.warning("records fetched but not handed on: reading again from %s", back)
            await consumer.seek_wait(back)

    def seek_uncommitted(self, app: faust.App) -> None:
        """After each seek to the committed offsets, seek every uncommitted stream partition
        to its next offset to take (a start below the log's first offset resets to it)."""
        consumer: Any = app.consumer  # the aiokafka driver's, with seek_wait
        seek_to_committed: Callable[[], Awaitable[Mapping[Any, int | None]]]
        seek_to_committed = consumer.seek_to_committed

        async def seek_to_committed_or_next() -> Mapping[Any, int | None]:
            committed = await seek_to_committed()
            starts = {}
            for tp, offset in committed.items():
                if tp.topic not in self.topics:
                    continue
                ours = TP(tp.topic, tp.partition)
                if offset is not None and offset > 0:  # aiokafka sought it: read on there
                    self.next.setdefault(ours, offset)
                else:
                    starts[tp] = self.next.setdefault(ours, 0)
            if starts:  # in the consumer's own thread, done before this returns
                await consumer.seek_wait(starts)
            return committed

        consumer.seek_to_committed = seek_to_committed_or_next
