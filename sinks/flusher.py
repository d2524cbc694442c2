"""The sink's second hand: writes checkpoints to the database while the first one reads on.

Decoding is Python's work and writing is PostgreSQL's, so they overlap: the Kafka loop hands
a finished checkpoint over and goes on decoding the next one. Each checkpoint is written in
one transaction, its dead letters published, and only then its offsets committed — in the
order the checkpoints were taken. The offsets are committed by the Kafka loop's thread
(a consumer is not shared across threads). A lost database is retried with backoff until it
is back or the sink is aborted; nothing is committed meanwhile, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition

from iiot import topics
from iiot.contract import ContractError, encode, letter_key, refused
from iiot.kafka_security import kafka_config
from iiot.results import DeadLetter
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.partitions import PartitionKeeper, policies
from sinks.sink_status import SinkStats
from sinks.tables import Origin
from sinks.writer import Batch, TableWriter

log = logging.getLogger("iiot.sink")

STAGE = "sink"
MAX_BACKOFF_S = 10.0


class SinkAborted(RuntimeError):
    """Stopped while a checkpoint could not be written: nothing of it was committed."""


@dataclass
class Checkpoint:
    batch: Batch = field(default_factory=Batch)
    dead: list[tuple[Origin, ContractError]] = field(default_factory=list)
    offsets: list[TopicPartition] = field(default_factory=list)


def letter_of(error: ContractError, origin: Origin) -> DeadLetter:
    letter = refused(STAGE, error, origin)
    if origin.sample_index:  # one sample of a batch record (`refused` knows records only)
        return letter.model_copy(update={"sample_index": origin.sample_index})
    return letter


class Flusher:
    def __init__(
        self, settings: Settings, schema: str, consumer: Consumer, stats: SinkStats
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.consumer = consumer
        self.stats = stats
        self.abort = threading.Event()
        self.failure: BaseException | None = None
        self._queue: queue.Queue[Checkpoint | None] = queue.Queue(maxsize=1)
        self._room = threading.Event()  # set as the thread takes a checkpoint off the queue
        self._outstanding = 0  # submitted and not yet committed
        self._flushed: queue.SimpleQueue[list[TopicPartition]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._writer: TableWriter | None = None
        self.producer = Producer({**kafka_config(settings), "enable.idempotence": True})
        self._thread = threading.Thread(target=self._run, name="sink-flusher", daemon=True)
        self._thread.start()

    # -- the Kafka loop's side --------------------------------------------------------------

    def has_room(self) -> bool:
        return not self._queue.full()

    def wait_for_room(self, timeout_s: float) -> None:
        """Until a checkpoint can be submitted, or `timeout_s` has passed."""
        self._room.clear()
        if not self.has_room():
            self._room.wait(timeout_s)

    def idle(self) -> bool:
        with self._lock:
            return self._outstanding == 0

    def submit(self, checkpoint: Checkpoint) -> None:
        self.raise_failure()
        with self._lock:
            self._outstanding += 1
        self._queue.put(checkpoint)

    def commit_flushed(self) -> None:
        """Commit the offsets of checkpoints now in the database, oldest first.

        Called by the Kafka loop's thread: the consumer is not shared across threads.
        """
        while True:
            try:
                offsets = self._flushed.get_nowait()
            except queue.Empty:
                return
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except Exception as exc:  # a rebalance took the partition: its new owner re-reads
                log.warning("offset commit failed (rows are keyed, re-read is harmless): %s", exc)
            with self._lock:
                self._outstanding -= 1

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def finish(self) -> None:
        """Write what was submitted, then stop the thread (waits through an outage)."""
        self._queue.put(None)
        self._thread.join()
        self.commit_flushed()
        self.producer.flush(10)
        self._drop_connection()
        self.raise_failure()

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (checkpoint := self._queue.get()) is not None:
                self._room.set()
                self._flush(checkpoint)
        except BaseException as exc:  # handed to the Kafka loop, which stops on it
            self.failure = exc
            with contextlib.suppress(queue.Empty):  # unblock a waiting submit()
                self._queue.get_nowait()

    def _flush(self, checkpoint: Checkpoint) -> None:
        started = time.monotonic()
        rejected = self._write_until_done(checkpoint.batch)
        dead = checkpoint.dead + [
            (r.origin, ContractError("db_rejected", f"{r.table}: {r.reason}")) for r in rejected
        ]
        self._publish_dead(dead)
        self._flushed.put(checkpoint.offsets)
        self.stats.written(checkpoint.batch, rejected, time.monotonic() - started)

    def _write_until_done(self, batch: Batch):  # type: ignore[no-untyped-def]
        backoff = 0.2
        while True:
            try:
                return self._table_writer().write(batch)
            except psycopg.Error as exc:
                self.stats.db_retries += 1
                reason = " ".join(str(exc).split())
                log.warning("database: %s — retrying in %.1f s", reason, backoff)
                self._drop_connection()
                if self.abort.wait(backoff):
                    raise SinkAborted("stopped during a database outage") from exc
                backoff = min(backoff * 2, MAX_BACKOFF_S)

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

    def _publish_dead(self, dead: list[tuple[Origin, ContractError]]) -> None:
        if not dead:
            return
        target = topics.name(Topic.DEADLETTER, self.settings)
        for origin, error in dead:
            letter = letter_of(error, origin)
            self.producer.produce(target, key=letter_key(origin.key), value=encode(letter))
        remaining = self.producer.flush(30)
        if remaining:  # offsets must not move past letters Kafka has not taken
            raise RuntimeError(f"{remaining} dead letter(s) not acknowledged by Kafka")
        self.stats.dead_lettered += len(dead)
