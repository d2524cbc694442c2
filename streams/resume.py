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

Records were still seen dropped after that seek now and then: a restarted worker took
nothing of a partition it had fetched to the end. So the emit timer also checks: a
partition of which nothing was taken since it was sought, whose fetch position stays ahead
of that start for STALL_TICKS ticks without a rebalance, is sought back to its start. (A
check on every partition also fired while a rebalance began, and its late seek lost
records: it is kept to this case.)
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
        self.start: dict[TP, int] = {}  # partition → where it was last sought

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
            for positions in (self.next, self.gap, self.back, self.start):
                positions.pop(tp, None)
        self.stalled.clear()  # a rebalance: count again from its end

    async def reseek_stalled(self, app: faust.App) -> None:
        """Seek back the partitions fetched ahead of their start with nothing taken."""
        consumer: Any = app.consumer
        if not consumer.flow_active or app.rebalancing:  # Faust seeks when it is done
            self.stalled.clear()
            return
        back, self.back = self.back, {}
        for tp, start in list(self.start.items()):
            if self.next.get(tp) != start:  # records were taken: it flows
                self.start.pop(tp, None)
                self.stalled.pop(tp, None)
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # e.g. no longer assigned: the rebalance handles it
                continue
            if position is None or position <= start:
                self.stalled.pop(tp, None)
                continue
            _, ticks = self.stalled.get(tp, (start, 0))
            if ticks + 1 < STALL_TICKS:
                self.stalled[tp] = start, ticks + 1
                continue
            self.stalled.pop(tp, None)
            back[tp] = start
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
                    self.start[ours] = self.next.setdefault(ours, offset)
                else:
                    starts[tp] = self.start[ours] = self.next.setdefault(ours, 0)
            if starts:  # in the consumer's own thread, done before this returns
                await consumer.seek_wait(starts)
            return committed

        consumer.seek_to_committed = seek_to_committed_or_next
