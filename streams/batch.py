"""Records in batches: what they changed, written and sent once per batch, then acked.

Faust writes a changelog record for every table assignment, and the old worker sent each
result as it came; per sample that was most of its time. Now each record is processed as it
comes, but the state it changed is written once per batch (one changelog record per
touched device, whatever its number of samples) and the results go out together.

Why no state is lost: the stream does not ack its records itself (`noack()`); a batch's
records are acked only after the broker confirmed every changelog record and result of the
batch (`send_all` awaits the delivery futures, once per batch). A send that fails (the
producer's flush before a commit does not say) stops the worker without acking the batch,
so nothing is committed past a lost send: it restarts and replays from its last commit.
A crash before the commit replays the batch: its samples are then duplicates of the state
already written, or apply again to the state before it. Records not yet acked when the
worker stops or loses a partition are simply not committed (the app sets
`stream_wait_empty=False`: Faust would otherwise wait for acks the stopped timer no longer
gives); on a rebalance the app writes the open batch and flushes the producer before the
partitions are handed on, so the next owner recovers all of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import EventT

from iiot.oee import Reading
from streams.positions import Positions

log = logging.getLogger("iiot.streams")

SLOW_SEND_S = 30.0  # a send waited on longer than this is warned of

# (topic name, key, value, partition) to send; value None deletes, partition None: by key
Outbox = list[tuple[str, bytes, bytes | None, int | None]]


@dataclass(slots=True)
class Batch:
    events: list[EventT] = field(default_factory=list)  # to ack once written
    # device → its readings accepted in this batch, in order: the devices whose state to
    # write, and what to re-apply if a later sample of theirs fails half-way
    readings: defaultdict[str, list[Reading]] = field(default_factory=lambda: defaultdict(list))
    alarms: set[str] = field(default_factory=set)  # devices whose alarm state changed
    held: dict[str, int] = field(default_factory=dict)  # device → partition: held samples
    ends: dict[int, int] = field(default_factory=dict)  # telemetry partition → next offset
    feed: list = field(default_factory=list)  # device windows for the roll-ups
    members: dict[str, Any] = field(default_factory=dict)  # roll-up members, clocks to write
    out: Outbox = field(default_factory=list)

    def send(self, topic: faust.TopicT, key: bytes, value: bytes) -> None:
        self.out.append((topic.get_topic_name(), key, value, None))

    def put(self, table: faust.Table, partition: int, key: str, value: bytes) -> None:
        """`table[key] = value`, its changelog record sent with the batch's results.

        The partition is named, not taken from the current event (a batch is written
        outside any one record's processing), and the record goes straight to the
        producer rather than through Faust's one-by-one send buffer."""
        table.data[key] = value
        self.out.append(
            (table.changelog_topic.get_topic_name(), _key(table, key), value, partition)
        )

    def drop(self, table: faust.Table, partition: int, key: str) -> None:
        """`del table[key]` (see `put`)."""
        del table.data[key]
        self.out.append((table.changelog_topic.get_topic_name(), _key(table, key), None, partition))


class Batches:
    """Feeds a stream's records to `process` and, every `max_records` records or when the
    timer calls `flush`, hands the batch to `write` and acks its records."""

    def __init__(
        self,
        write: Callable[[Batch], Awaitable[None]],
        max_records: int,
        lost: Callable[[BaseException, str], Awaitable[None]],
        positions: Positions | None = None,
    ) -> None:
        """`lost(error, what)` is called once if a batch could not be written; `positions`
        decides which records to take (streams/positions.py): all, without it."""
        self.write, self.max_records, self.lost = write, max_records, lost
        self.positions = positions
        self.failed: BaseException | None = None  # then no batch is acked any more
        self.batch = Batch()
        self.stream: faust.StreamT | None = None
        self.lock = asyncio.Lock()  # one batch written at a time, in order

    async def run(self, stream: faust.StreamT, process: Callable[[Batch, EventT], None]) -> None:
        self.stream = stream.noack()
        positions = self.positions
        async for event in self.stream.events():
            if positions is not None and not positions.take(event):
                if positions.gaps:
                    await positions.seek_back()
                continue  # not acked: read again, or taken already
            process(self.batch, event)
            self.batch.events.append(event)
            if len(self.batch.events) >= self.max_records:
                await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            batch, self.batch = self.batch, Batch()
            if not batch.events or self.failed is not None:
                return
            try:
                await self.write(batch)
            except Exception as exc:
                self.failed = exc
                await self.lost(exc, f"a batch of {len(batch.events)} records")
                raise
            assert self.stream is not None
            for event in batch.events:
                await self.stream.ack(event)


def _key(table: faust.Table, key: str) -> bytes:
    """The key as Faust writes it to a changelog (and reads it back in a recovery)."""
    return codecs.dumps(table.key_serializer, key)


async def send_all(producer: faust.types.ProducerT, out: Outbox) -> None:
    """Hand every record to the producer, then wait until the broker has them all: raises
    the first failed send (too large, expired, not authorized, …). Straight to the
    producer: `Topic.send` wraps each record in futures and sensor calls that cost more
    than the send itself."""
    started = time.monotonic()
    # A wait that never ends leaves no trace of its own: say so while it lasts.
    slow = asyncio.get_running_loop().call_later(SLOW_SEND_S, _still_sending, len(out), started)
    try:
        send = producer.send
        delivered = [
            await send(topic, key, value, partition, None, None)
            for topic, key, value, partition in out
        ]
        for delivery in delivered:  # one by one: no gather's callback a future
            await delivery
    finally:
        slow.cancel()
    if (waited := time.monotonic() - started) >= SLOW_SEND_S:
        log.warning("%d records delivered after %.0f s", len(out), waited)


def _still_sending(records: int, started: float) -> None:
    log.warning("%d records not delivered after %.0f s: the broker is away or slow", records,
                time.monotonic() - started)  # fmt: skip
