"""`iiot sink`: Kafka → database, at-least-once in, exactly-once in effect.

The shape of Quix Streams' sinks: messages are decoded into rows kept per (topic,
partition); at a checkpoint (enough rows, or enough time) every batch goes to the flusher,
which writes it in one database transaction, publishes its dead letters, and only then
commits its offsets. Rows are keyed, so whatever is read twice after a crash changes nothing.
While the flusher is behind (a slow or absent database) the consumer is paused: memory stays
bounded and the group membership alive.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from iiot import topics
from iiot.contract import ContractError, decode
from iiot.gc_tuning import quieten
from iiot.kafka_security import kafka_config
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import is_batch, unpack
from sinks.flusher import Checkpoint, Flusher, letter_of
from sinks.sink_status import SinkStats, live_lag
from sinks.tables import ROUTES, TELEMETRY, Origin, Route, Row, SampleOrigin, Target
from sinks.telemetry_rows import element_row, fast_row
from sinks.writer import Batch

log = logging.getLogger("iiot.sink")


@dataclass
class PartitionBatch:
    """What one (topic, partition) holds until the next checkpoint."""

    batch: Batch = field(default_factory=Batch)
    dead: list[tuple[Origin, ContractError]] = field(default_factory=list)
    next_offset: int = 0


# The Kafka loop (decoding) and the flusher (COPY rows) both need the GIL; handing it over
# every 0.5 ms instead of 5 ms keeps the COPY stream fed while decoding runs (measured:
# about 20% more rows/s). Set by the process that runs a sink: `iiot sink`, the bench.
GIL_SWITCH_INTERVAL_S = 0.0005


def tune_interpreter() -> None:
    """Process-wide settings for a process that runs a sink (`iiot sink`, the bench), made
    once what lives as long as the process exists: the GIL switch interval, and the garbage
    collector out of the way of the rows in flight (iiot/gc_tuning.py; measured in a
    300,000-row bench run: 1,154 young collections, 0.59 s of 2.8 s → 13–14, 0.15–0.38 s).
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    quieten()


# Topics whose plainly valid messages skip pydantic (sinks/telemetry_rows.py: ~5× cheaper).
FAST_ROWS: dict[Topic, tuple[Target, Callable[[bytes], Row | None]]] = {
    Topic.TELEMETRY: (TELEMETRY, fast_row),
}


# The stream worker reads every record of these topics and refuses the bad ones with the
# more specific reasons (future_ts, unknown_device, key_mismatch): their letters are its own.
# The sink letters only what it alone refuses (docs/contract.md, "Who sends a dead letter").
STREAM_REFUSES = frozenset({Topic.TELEMETRY, Topic.REGISTRY})
# Records taken a poll at most: as many rows as a checkpoint holds when each is one row.
MAX_RECORDS_PER_POLL = 10_000
# Topics whose records may be batch records (iiot/wire/sample_batch.py): a row per sample.
BATCHED = frozenset({Topic.TELEMETRY})


@dataclass(frozen=True)
class Way:
    """How the messages of one topic become rows."""

    topic: Topic
    route: Route
    logical: str  # the topic's name without the prefix, as dead letters name it
    fast: Callable[[bytes], Row | None] | None = None
    fast_target: Target | None = None
    batched: bool = False

    @classmethod
    def of(cls, topic: Topic) -> Way:
        target, fast = FAST_ROWS.get(topic, (None, None))
        return cls(topic, ROUTES[topic], topic.value, fast, target, topic in BATCHED)


class Sink:
    def __init__(
        self,
        settings: Settings,
        schema: str | None = None,
        *,
        sources: tuple[Topic, ...] = tuple(ROUTES),
        stats: SinkStats | None = None,
    ) -> None:
        self.settings = settings
        self.schema = schema or settings.pg_schema
        self.stats = stats or SinkStats(sources)
        self._pending: dict[tuple[str, int], PartitionBatch] = {}
        self._held = 0
        self._last_checkpoint = time.monotonic()
        self._paused = False
        self.records_per_poll = MAX_RECORDS_PER_POLL
        self._leftover: list[Message] = []  # a poll's records not taken yet (_hand_over)
        self._handed = 0  # rows handed to the flusher, ever
        self._ways = {topics.name(t, settings): Way.of(t) for t in sources}
        self.consumer = Consumer(
            {
                **kafka_config(settings),
                "group.id": f"{settings.topic_prefix}{settings.sink_group}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "fetch.max.bytes": 64 * 1024 * 1024,
            }
        )
        self.flusher = Flusher(settings, self.schema, self.consumer, self.stats)
        self.consumer.subscribe(
            list(self._ways), on_revoke=self._on_revoke, on_lost=self._on_revoke
        )

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        """Consume and write until `until()` is true; then write what is held and close."""
        try:
            while not until():
                self.poll()
            self.checkpoint(wait=True)
            self.flusher.finish()
        finally:
            self.flusher.abort.set()
            self.consumer.close()

    def caught_up(self) -> bool:
        """Nothing held or being written, partitions assigned, each read to its end."""
        self.flusher.commit_flushed()
        if self._pending or self._leftover or not self.flusher.idle():
            return False
        if not self.consumer.assignment():
            return False
        return all(lag == 0 for _, lag in live_lag(self.consumer))

    def poll(self, timeout_s: float = 0.2) -> None:
        self.flusher.raise_failure()
        self.flusher.commit_flushed()
        if self._pause_while_flusher_is_behind():  # nothing to take till it has room again
            self.flusher.wait_for_room(timeout_s)
        wait_s = 0 if self._paused else timeout_s
        messages = self.consumer.consume(num_messages=self.records_per_poll, timeout=wait_s)
        if self._leftover:  # the rest of an earlier poll comes first
            messages, self._leftover = self._leftover + messages, []
        before = self._handed + self._held
        self._take_all(messages)
        if messages:  # batch records hold many rows each: take about a checkpoint's worth
            rows_each = max(1, (self._handed + self._held - before) // len(messages))
            most = self.settings.sink_batch_rows // rows_each
            self.records_per_poll = max(1, min(MAX_RECORDS_PER_POLL, most))
        due = time.monotonic() - self._last_checkpoint >= self.settings.sink_batch_s
        if self._held >= self.settings.sink_batch_rows or (due and self._pending):
            self.checkpoint()
        self.stats.maybe_report(self.consumer)

    def _pause_while_flusher_is_behind(self) -> bool:
        """Pause while the flusher is behind, or while the rest of a poll waits to be taken
        (nothing may overtake it); True if the flusher is behind."""
        behind = self._held >= self.settings.sink_batch_rows and not self.flusher.has_room()
        pause = behind or bool(self._leftover)
        if pause != self._paused:
            assignment = self.consumer.assignment()
            (self.consumer.pause if pause else self.consumer.resume)(assignment)
            self._paused = pause
        return behind

    def _take_all(self, messages: list[Message]) -> None:
        # The hot path: runs for every message, 100,000 times a second when it can; what
        # each message needs of its topic was looked up once, in __init__.
        pending, ways, most = self._pending, self._ways, self.settings.sink_batch_rows
        for at, message in enumerate(messages):
            if message.error() is not None:
                self._kafka_error(message)
                continue
            where = (message.topic() or "", message.partition() or 0)
            held = pending.get(where)
            if held is None:
                held = pending[where] = PartitionBatch()
            held.next_offset = (message.offset() or 0) + 1
            way = ways[where[0]]
            origin = Origin(way.logical, message)
            value = message.value() or b""
            full = False
            try:  # free unless raised: no record, however strange, stops the loop
                if way.batched and is_batch(value) and self._take_batch(held, origin, value):
                    full = self._held >= most
                elif (
                    way.fast is not None
                    and (row := way.fast(value)) is not None
                    and message.key() == row[0].encode()  # a telemetry row: device_id first
                ):
                    held.batch.rows[way.fast_target].append(row)
                    held.batch.origins[way.fast_target].append(origin)
                    self._held += 1
                else:
                    self._take_decoded(held, way, origin, value)
            except Exception as exc:  # a bug's symptom, but one record's: letter it, go on
                log.exception("sink: cannot take %s[%d]@%d", where[0], where[1], origin.offset)
                held.dead.append((origin, ContractError("sink_error", f"{exc!r}"[:500])))
            if full:  # a checkpoint's rows amid a poll's batch records
                if not self._hand_over(messages[at + 1 :]):
                    return
                pending = self._pending

    def _hand_over(self, rest: list[Message]) -> bool:
        """Hand the rows held to the flusher; if it has no room, keep the `rest` of the poll
        as it came (bytes, not rows) for the next polls and say so: False."""
        if self.flusher.has_room():
            self.checkpoint()
            return True
        self._leftover = rest
        return False

    def _take_batch(self, held: PartitionBatch, origin: Origin, value: bytes) -> bool:
        """Each sample of a batch record as the row it would be alone; False if `value` is no
        batch record after all (a Sample with the word `samples` in a string)."""
        try:
            batch = unpack(value)
        except ContractError:  # its envelope: refused whole, the stream worker letters it
            self.stats.undecodable += 1
            return True
        if batch is None:
            return False
        device_id = batch.device_id
        if origin.key != device_id.encode():  # as for one sample (_take_decoded): none lands
            self.stats.undecodable += 1
            return True
        rows, origins = held.batch.rows[TELEMETRY], held.batch.origins[TELEMETRY]
        taken = len(rows)
        for index, element in enumerate(batch.samples):
            try:
                row = element_row(device_id, element)
            except ContractError:  # this sample alone: the stream worker letters it
                self.stats.undecodable += 1
                continue
            except Exception as exc:  # one sample's bug, as in _take_all: letter it, go on
                log.exception("sink: cannot take sample %d of %s", index, origin.offset)
                error = ContractError("sink_error", f"{exc!r}"[:500])
                held.dead.append((SampleOrigin(origin, device_id, element, index), error))
                continue
            rows.append(row)
            origins.append(SampleOrigin(origin, device_id, element, index))
        self._held += len(rows) - taken
        return True

    def _kafka_error(self, message: Message) -> None:
        error = message.error()
        if error.code() != KafkaError._PARTITION_EOF:
            self.stats.kafka_errors += 1
            log.warning("kafka: %s", error.str())

    def _take_decoded(self, held: PartitionBatch, way: Way, origin: Origin, value: bytes) -> None:
        try:
            decoded = decode(way.route.model, value)
        except ContractError as exc:
            if way.topic in STREAM_REFUSES:
                self.stats.undecodable += 1  # its letter is the stream worker's to send
                return
            if way.topic is not Topic.DEADLETTER:
                held.dead.append((origin, exc))
                self.stats.undecodable += 1
                return
            decoded = letter_of(exc, origin)  # an unreadable dead letter: stored, not re-sent
        if way.topic in STREAM_REFUSES and origin.key != decoded.device_id.encode():
            # Keyed by something else than its device: on the wrong partition, so no worker
            # holds its device's state; refused like a broken record (the stream letters it).
            self.stats.undecodable += 1
            return
        rows, origins = held.batch.rows, held.batch.origins
        for target, row in way.route.rows(decoded, origin):
            rows[target].append(row)
            origins[target].append(origin)
            self._held += 1

    def checkpoint(self, *, wait: bool = False) -> None:
        """Hand everything held to the flusher (waiting for room if it is still busy)."""
        self._last_checkpoint = time.monotonic()
        if not self._pending or (not wait and not self.flusher.has_room()):
            return
        self._handed += self._held
        pending, self._pending, self._held = self._pending, {}, 0
        checkpoint = Checkpoint()
        for (name, partition), held in pending.items():
            checkpoint.batch.extend(held.batch)
            checkpoint.dead += held.dead
            checkpoint.offsets.append(TopicPartition(name, partition, held.next_offset))
        self.flusher.submit(checkpoint)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Uncommitted rows of a partition we lose are re-read by its next owner; drop ours.
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._leftover = [m for m in self._leftover if (m.topic(), m.partition()) not in gone]
        for tp in partitions:
            held = self._pending.pop((tp.topic, tp.partition), None)
            if held is not None:
                self._held -= len(held.batch)
