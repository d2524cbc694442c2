"""`iiot sink`: Kafka → database, at-least-once in, exactly-once in effect.

The shape of Quix Streams' sinks: messages are decoded into rows kept per (topic,
partition); at a checkpoint (enough rows, or enough time) every batch is written in one
database transaction, dead letters are flushed to Kafka, and only then are the offsets
committed. Rows are keyed, so whatever is read twice after a crash changes nothing.
A database outage stops the checkpoint, not the data: it is retried with backoff, and the
consumer is paused meanwhile so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from iiot import topics
from iiot.contract import ContractError, dead_letter, decode, encode
from iiot.results import DeadLetter
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.partitions import PartitionKeeper, policies
from sinks.sink_status import SinkStats, live_lag
from sinks.tables import ROUTES, Origin
from sinks.writer import Batch, Rejected, TableWriter

log = logging.getLogger("iiot.sink")

STAGE = "sink"
MAX_BACKOFF_S = 10.0


@dataclass
class PartitionBatch:
    """What one (topic, partition) holds until the next checkpoint."""

    batch: Batch = field(default_factory=Batch)
    dead: list[tuple[Origin, ContractError]] = field(default_factory=list)
    next_offset: int | None = None


class SinkStopped(RuntimeError):
    """Asked to stop while the database was away: nothing was committed, nothing is lost."""


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
        self.sources = sources
        self.stats = stats or SinkStats(sources)
        self._pending: dict[tuple[str, int], PartitionBatch] = {}
        self._held = 0
        self._last_checkpoint = time.monotonic()
        self._conn: psycopg.Connection | None = None
        self._writer: TableWriter | None = None
        self._until: Callable[[], bool] = lambda: False
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"{settings.topic_prefix}{settings.sink_group}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "fetch.max.bytes": 64 * 1024 * 1024,
            }
        )
        self.producer = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True}
        )
        names = [topics.name(t, settings) for t in sources]
        self.consumer.subscribe(names, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        """Consume and write until `until()` is true; then write what is held and close."""
        self._until = until
        try:
            while not until():
                self.poll()
            self.checkpoint()
        finally:
            self.close()

    def caught_up(self) -> bool:
        """Nothing held, partitions assigned, and every one of them read to its end."""
        if self._pending or not self.consumer.assignment():
            return False
        return all(lag == 0 for _, lag in live_lag(self.consumer))

    def poll(self, timeout_s: float = 0.2) -> None:
        messages = self.consumer.consume(num_messages=10_000, timeout=timeout_s)
        for message in messages:
            self._take(message)
        due = time.monotonic() - self._last_checkpoint >= self.settings.sink_batch_s
        if self._held >= self.settings.sink_batch_rows or (due and self._pending):
            self.checkpoint()
        self.stats.maybe_report(self.consumer)

    def _take(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self.stats.kafka_errors += 1
                log.warning("kafka: %s", error.str())
            return
        topic = topics.logical(message.topic(), self.settings)
        origin = Origin(
            topic.value,
            message.partition(),
            message.offset(),
            message.key(),
            message.timestamp()[1],
            message.value(),
        )
        held = self._pending.setdefault((message.topic(), message.partition()), PartitionBatch())
        held.next_offset = message.offset() + 1
        route = ROUTES[topic]
        try:
            decoded = decode(route.model, message.value() or b"")
        except ContractError as exc:
            if topic is Topic.DEADLETTER:
                decoded = self._dead_letter_of(exc, origin)  # never back onto its own topic
            else:
                held.dead.append((origin, exc))
                self.stats.undecodable += 1
                return
        for target, row in route.rows(decoded, origin):
            held.batch.add(target, row, origin)
            self._held += 1

    # -- checkpoint -------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write all held rows, publish dead letters, then commit the offsets."""
        self._last_checkpoint = time.monotonic()
        if not self._pending:
            return
        pending, self._pending, self._held = self._pending, {}, 0
        batch = Batch()
        dead: list[tuple[Origin, ContractError]] = []
        for held in pending.values():
            batch.extend(held.batch)
            dead += held.dead
        started = time.monotonic()
        rejected = self._write_until_done(batch)
        for r in rejected:
            dead.append((r.origin, ContractError("db_rejected", f"{r.table}: {r.reason}")))
        self._publish_dead(dead)
        offsets = [
            TopicPartition(topic, partition, held.next_offset)
            for (topic, partition), held in pending.items()
            if held.next_offset is not None
        ]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except Exception as exc:  # a rebalance took the partition: its new owner re-reads
            log.warning("offset commit failed (rows are keyed, re-reading is harmless): %s", exc)
        self.stats.written(batch, rejected, time.monotonic() - started)

    def _write_until_done(self, batch: Batch) -> list[Rejected]:
        backoff = 0.2
        paused = False
        while True:
            try:
                return self._table_writer().write(batch)
            except psycopg.Error as exc:
                self.stats.db_retries += 1
                reason = " ".join(str(exc).split())
                log.warning("database: %s — retrying in %.1f s", reason, backoff)
                self._drop_connection()
                if not paused:
                    # Keep the group membership alive but stop fetching while we wait.
                    self.consumer.pause(self.consumer.assignment())
                    paused = True
                self.stats.maybe_report(self.consumer, force=True)
                if self._until():
                    raise SinkStopped("stopped during a database outage") from exc
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                self.consumer.poll(0)  # serve rebalance callbacks; paused, so no messages
            finally:
                if paused and self._writer is not None:
                    self.consumer.resume(self.consumer.assignment())
                    paused = False

    def _table_writer(self) -> TableWriter:
        if self._writer is None:
            conn = psycopg.connect(self.settings.pg_writer_dsn, autocommit=True, connect_timeout=5)
            self._conn = conn
            keeper = PartitionKeeper(self.schema, policies(conn, self.schema))
            self._writer = TableWriter(conn, self.schema, keeper)
        return self._writer

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = self._writer = None

    # -- dead letters -----------------------------------------------------------------------

    def _publish_dead(self, dead: list[tuple[Origin, ContractError]]) -> None:
        if not dead:
            return
        target = topics.name(Topic.DEADLETTER, self.settings)
        for origin, error in dead:
            letter = self._dead_letter_of(error, origin)
            self.producer.produce(target, key=origin.key, value=encode(letter))
        remaining = self.producer.flush(30)
        if remaining:  # offsets must not move past letters Kafka has not taken
            raise RuntimeError(f"{remaining} dead letter(s) not acknowledged by Kafka")
        self.stats.dead_lettered += len(dead)

    @staticmethod
    def _dead_letter_of(error: ContractError, origin: Origin) -> DeadLetter:
        """The dead letter of a message; one that is itself unreadable is stored as such."""
        return dead_letter(
            STAGE,
            error,
            origin.value,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            key=origin.key,
            timestamp_ms=origin.timestamp_ms,
        )

    # -- rebalances and shutdown ------------------------------------------------------------

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Uncommitted rows of a partition we lose are re-read by its next owner; drop ours.
        for tp in partitions:
            held = self._pending.pop((tp.topic, tp.partition), None)
            if held is not None:
                self._held -= len(held.batch)

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(10)
        self._drop_connection()
