"""Each partition's records taken in offset order, each once: what Faust does not promise
across a rebalance.

Traced in loops of the rebalance tests (tests/integration/test_stream_guards.py, about 1
run in 10 under load, and test_streams.py's SIGKILL test), Faust 0.15 around a rebalance:
- hands on records read while its tables recover, before it seeks to the committed
  offsets: ahead of them, judged by a future guard that had not taken up its state there;
- drops records after that seek: its fetch loop passes over any record below the last
  offset it handed on, which can be one fetched before the seek; its stream skips records
  of the previous generation;
- commits past a record it dropped at the committed offset C (acked C+1… follow "committed
  C" for it), so that record is lost for good;
- does not seek a partition nobody has committed (aiokafka seeks only to a commit above 0),
  so what it fetched and dropped while a restarted worker recovered was lost.

So the flows take a record only if it is the next one of its partition. Which one that is
is known once Faust has sought the partition after an assignment: its committed offset, or
the first offset of its log if none. Records before that are passed over, not acked, and
so are records delivered again. A record past the next one means records were dropped: it
is passed over, and the partition sought back to the next one (again each second until
they come; to the log's first offset if retention deleted them meanwhile). A compacted
topic's offsets have gaps of their own: there a gap is taken as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

import faust
from faust.types import TP, EventT

log = logging.getLogger(__name__)

SEEK_AGAIN_S = 1.0  # a seek back that brought nothing: its records were dropped again
STALL_TICKS = 3  # timer ticks with a partition fetched past its next offset, nothing taken


class Positions:
    def __init__(
        self,
        app: faust.App,
        topics: Iterable[str],
        reread: Callable[[list[TP]], None],
        compacted: Iterable[str] = (),
    ) -> None:
        """`reread(partitions)`: partitions now read from where Faust sought them (the
        first seek since they were assigned): the device flow's guard takes up its state
        there. `compacted`: topics whose offsets have gaps of their own."""
        self.app, self.topics, self.reread = app, set(topics), reread
        # There a gap is taken as it is: seeking back at each would cost a fetch per gap. So
        # a birth Faust drops there is missed until the device's next birth (its samples
        # are held meanwhile, streams/held.py).
        self.compacted = set(compacted)
        self.next: dict[TP, int] = {}  # partition → the next offset to take
        self.gaps: dict[TP, float] = {}  # partition → when it was sought back (0: not yet)
        self.still: dict[TP, tuple[int, int]] = {}  # partition → (next offset, ticks)

    def take(self, event: EventT[Any]) -> bool:
        """Whether this record is the next of its partition (then it is the flow's)."""
        message = event.message
        tp, offset = message.tp, message.offset
        expected = self.next.get(tp)
        if expected is None or offset < expected:
            return False  # before its partition was sought, or delivered again
        if offset > expected and tp.topic not in self.compacted:
            self.gaps.setdefault(tp, 0.0)  # records dropped: sought back to them
            # Faust counts offsets it saw skipped as acked (for compacted topics): these
            # were dropped, and are read again.
            self.app.consumer._gap.pop(tp, None)  # type: ignore[attr-defined]
            return False
        self.next[tp] = offset + 1
        self.gaps.pop(tp, None)
        return True

    async def seek_back(self, now: float | None = None) -> None:
        """Seek the partitions with a gap back to their next offset (again, if the last
        seek brought nothing for a while: Faust dropped what it fetched again)."""
        now = time.monotonic() if now is None else now
        consumer = self.app.consumer
        for tp, sought in list(self.gaps.items()):
            if now - sought < SEEK_AGAIN_S:
                continue
            self.gaps[tp] = now
            try:
                first = (await consumer.earliest_offsets(tp))[tp]
                if first > self.next[tp]:  # deleted (retention) before it was read
                    log.warning("%s: records %s..%s were deleted before they were read",
                                tp, self.next[tp], first - 1)  # fmt: skip
                    self.next[tp] = first
                offset = self.next[tp]
                log.info("%s: records from %s were not handed on: reading again", tp, offset)
                await self.seek(tp, offset)
            except Exception as exc:  # not assigned any more: the rebalance resets it
                log.info("%s: no seek back (%s)", tp, exc)

    async def seek(self, tp: TP, offset: int) -> None:
        """Faust's `consumer.seek` calls aiokafka from this thread while the consumer's own
        thread may be handing on the partition's fetched records: aiokafka's fetcher then
        raises KeyError and the worker stops (seen in tests/faults' partitions_move_back).
        Faust itself seeks only while the flow is stopped; this seek runs on the consumer's
        thread, then does Faust's bookkeeping (its `Consumer.seek`)."""
        consumer: Any = self.app.consumer
        thread = consumer._thread
        await thread.call_thread(thread.seek, tp, offset)
        consumer._read_offset[tp] = offset or None

    async def check(self) -> None:
        """On the timer: seek back the gaps, and a partition whose fetch position stays
        past its next offset with nothing taken (its records dropped, none after them)."""
        app, consumer = self.app, cast(Any, self.app.consumer)  # the aiokafka driver's
        if not consumer.flow_active or app.rebalancing:  # Faust seeks when it is done
            self.still.clear()
            return
        for tp, expected in list(self.next.items()):
            if tp in self.gaps:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # not assigned any more: the rebalance resets it
                continue
            if position is None or position <= expected or self.next.get(tp) != expected:
                self.still.pop(tp, None)
                continue
            last, ticks = self.still.get(tp, (expected, 0))
            ticks = ticks + 1 if last == expected else 1
            self.still[tp] = expected, ticks
            if ticks >= STALL_TICKS:
                self.still.pop(tp, None)
                self.gaps[tp] = 0.0
        await self.seek_back()

    def forget(self, tps: Iterable[TP]) -> None:
        """Revoked: where to go on is known again once Faust has sought them."""
        for tp in tps:
            self.next.pop(tp, None)
            self.gaps.pop(tp, None)
            self.still.pop(tp, None)

    def follow_seeks(self) -> None:
        """From now on, every time Faust seeks the partitions to their committed offsets,
        take each one from there (without one, from its first offset); unless this worker
        took records past it since it was assigned: those come again and are passed over."""
        consumer: Any = self.app.consumer
        seek_to_committed: Callable[[], Awaitable[Mapping[Any, int | None]]]
        seek_to_committed = consumer.seek_to_committed
        if getattr(seek_to_committed, "followed", False):
            return

        async def seek_and_follow() -> Mapping[Any, int | None]:
            committed = await seek_to_committed()
            ours = {TP(tp.topic, tp.partition): offset for tp, offset in committed.items()
                    if tp.topic in self.topics}  # fmt: skip
            uncommitted = [tp for tp, offset in ours.items() if not offset]
            first = await consumer.earliest_offsets(*uncommitted) if uncommitted else {}
            moved = []
            for tp, offset in ours.items():
                start = offset or first.get(tp, 0)
                if self.next.get(tp, -1) >= start:
                    continue  # taken past it since it was assigned
                self.next[tp] = start
                self.gaps.pop(tp, None)
                moved.append(tp)
            self.still.clear()
            self.reread(moved)
            return committed

        seek_and_follow.followed = True  # type: ignore[attr-defined]
        consumer.seek_to_committed = seek_and_follow
