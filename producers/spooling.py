"""Spooling and draining: the Publisher's side of an outage (a mixin of `Publisher`).

Three modes, one order. LIVE: records go straight to the Kafka client. When the broker goes
away (all brokers down, a record failed, or no progress for `stall_s`) the publisher purges
what the client still holds, writes it to the spool in the order it was handed over
(producers/held.py), and from then on SPOOLING appends every new record behind it. When the
broker answers again DRAINING sends the spool, oldest first, in rounds, while new records
keep queueing behind in the spool; the round that reaches the spool's end is waited for on
the spot, and with the client and the spool both empty, LIVE again. So per key (= per
partition) the order never breaks across the live/spool boundary.

New records reach the spool through a buffer, committed every `spool_batch` records or
`spool_every_s` (one SQLite commit per record would cost more than the record).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from producers.held import Handed, Held, Returned
from producers.kafka_client import transient
from producers.packer import Packer, packed, samples_in, unpacked, whole
from producers.probe import BrokerProbe
from producers.spool import Record, Spool, SpoolFull
from producers.stats import Counters

log = logging.getLogger(__name__)


class Mode(StrEnum):
    LIVE = "live"
    SPOOLING = "spooling"
    DRAINING = "draining"


class Spooling:
    """Outage → spool, and the spool drained back in rounds. Its state is set up (and
    said what it is) in `Publisher.__init__`, beside the hot path's, which reads some of it;
    declared here for the type checker."""

    # The Publisher's, used here.
    mode: Mode
    spool: Spool
    counters: Counters
    _config: dict[str, Any]
    _producer: Producer
    _held: Held
    _hold: Callable[[Handed], None]
    _returned: list[Returned]
    _packer: Packer | None
    _probe: BrokerProbe
    _telemetry: str
    _stall_s: float
    _outage: bool
    _fatal: bool
    _live_sent: int
    _live_records: int
    _new_client: Callable[[], None]
    _new_packer: Callable[[Callable[[bytes, list[bytes], list[int]], bool]], Packer]
    _refused: Callable[[KafkaError, Message, int | None], None]
    # Its own: the buffer on its way into the spool, and the drain.
    _buffer: list[Record]
    _buffer_since: float
    _spool_batch: int
    _full: SpoolFull | None
    _full_at: float
    _drain_round: int
    _round: int
    _round_records: int
    _cursor: int
    _drain_sent: int
    _drain_failed: int

    def _to_spool(self, record: Record) -> None:
        if not self._buffer:
            self._buffer_since = time.monotonic()
        self._buffer.append(record)
        if len(self._buffer) >= self._spool_batch:
            self._commit_buffer()

    def _commit_buffer(self) -> None:
        if self._buffer:
            try:
                self.spool.append(self._buffer)
            except SpoolFull as full:  # the buffer waits in memory, in order, for room
                if self._full is None:
                    log.error("%s: new records are refused until it has room", full)
                self._full, self._full_at = full, time.monotonic()
                return
            if self._full is not None:
                log.warning("spool %s has room again: records are taken", self.spool.path)
                self._full = None
            self.counters.spooled += len(self._buffer)
            self.counters.accepted += len(self._buffer)
            self._buffer = []

    def _spool_from_now_on(self, outage: bool = True) -> None:
        """The broker is away: take back what the client holds, spool it, spool what comes."""
        if self.mode is Mode.LIVE and outage:
            self.counters.outages += 1
            log.warning(
                "Kafka at %s is away: spooling to %s",
                self._config["bootstrap.servers"],
                self.spool.path,
            )
        self.mode = Mode.SPOOLING
        self._producer.purge(in_queue=True, in_flight=True, blocking=True)
        deadline = time.monotonic() + 10
        while len(self._producer) and time.monotonic() < deadline:
            self._producer.poll(0.05)  # serve every report: none may come after we spool
        self._outage = False  # reports of purged records speak of this same outage
        if self._round:  # its rows stay in the spool: those Kafka had will go again
            self.counters.taken_back += self._round
            self._round = self._round_records = 0
        for record in self._held.take_back(self._returned):
            for sample in unpacked(record):  # the spool keeps a row per record handed over
                self._to_spool(sample)
        self._returned = []
        if self._packer is not None:  # newer than their device's records taken back
            telemetry = self._telemetry
            for key, value, ts in self._packer.take_all():
                self._to_spool(Record(telemetry, key, value, ts))
        if self._fatal:  # an idempotent producer in a fatal state takes nothing more
            self._new_client()
            self._fatal = False
        self._commit_buffer()
        self._probe.watch()

    def _drain(self) -> None:
        """Send the spool in rounds; a round's rows are deleted once the client holds none."""
        if self._round:
            if len(self._producer):
                return  # the round is still on its way
            self.spool.delete_upto(self._cursor)
            self._round = self._round_records = 0
        self._commit_buffer()  # new records must be in the spool before we look for its end
        rows = self.spool.read(self._cursor, self._drain_round)
        if not rows and self._buffer:  # not even the sent spool took them (a full disk)
            self._send_buffer()
            return
        if not rows:
            self.mode = Mode.LIVE
            self._probe.idle()
            return
        # A device's consecutive samples in the round go as batch records (packing on).
        packer = self._new_packer(self._send_drained) if self._packer is not None else None
        telemetry = self._telemetry
        for row in rows:
            record = row.record
            if packer is not None:
                key, value = record.key, record.value
                if record.topic == telemetry and packer.plain(key, value) and whole(value):
                    packer.add(key, value, record.timestamp_ms)  # type: ignore[arg-type]
                    continue
                packer.send_key(key)
            self._send_drained(record.key, [record.value], [record.timestamp_ms], record.topic)
        if packer is not None:
            packer.send_all()
        stopped = self._outage
        if stopped:
            return  # the round stays in the spool and goes again, from its oldest row
        self._cursor = rows[-1].id
        if len(rows) < self._drain_round:
            # The spool's end is in the client. Wait for it here, before anything new can
            # queue up behind it in the spool: then both are empty and we are live again.
            deadline = time.monotonic() + self._stall_s
            while len(self._producer) and not self._outage and time.monotonic() < deadline:
                self._producer.poll(0.05)
            if not len(self._producer) and not self._outage:
                self._drain()

    def _send_drained(
        self, key: bytes | None, values: list[Any], stamps: list[int], topic: str | None = None
    ) -> bool:
        """Spool rows to the client as one record: a device's samples (packed), or one row
        of `topic` as it is. Waits while the client's queue is full (the round fits in it
        unless the broker slows down: then that is an outage, and the round goes again)."""
        if self._outage:
            return True  # the round goes again: its rows stay in the spool
        value = packed(key, values) if topic is None else values[0]  # type: ignore[arg-type]
        deadline = time.monotonic() + self._stall_s
        while True:
            try:
                self._producer.produce(
                    topic or self._telemetry,
                    value,
                    key,
                    timestamp=stamps[0],
                    on_delivery=self._on_drained,
                )
                break
            except BufferError:
                self._producer.poll(0.05)
                if time.monotonic() > deadline:
                    self._outage = True
                if self._outage:
                    return True
        self._drain_sent += len(values)
        self._round += len(values)
        self._round_records += 1
        return True

    def _send_buffer(self) -> None:
        """The spool is sent, its disk full: the buffer is next in order, so the client takes
        it (as much as it has room for) and new records are taken again, to the buffer."""
        sent = 0
        for record in self._buffer:
            try:
                self._producer.produce(
                    record.topic, record.value, record.key, timestamp=record.timestamp_ms
                )
            except BufferError:
                break
            self._hold((record.topic, record.key, record.value, record.timestamp_ms))
            sent += 1
        self._live_sent += sent
        self._live_records += sent
        del self._buffer[:sent]
        if not self._buffer:
            self._full = None

    def _refuse(self) -> None:
        """Raise `SpoolFull` for a record handed over while the spool has no room."""
        self.counters.refused += 1
        raise SpoolFull(f"record refused ({self.counters.refused:,} so far): {self._full}")

    def _on_drained(self, err: KafkaError | None, msg: Message) -> None:
        """Spool rows came back: they stay in the spool, or are dead-lettered if refused."""
        if err is None:
            return  # delivered (the client reports failures only)
        self._drain_failed += samples_in(msg.value())
        if transient(err):
            self._outage = True  # the rows stay; draining starts over from the oldest
        else:
            self._refused(err, msg, None)  # deleted with its round
