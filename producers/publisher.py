"""The Publisher: records to Kafka, through the disk spool whenever the broker is away.

Three modes, one order. LIVE: records go straight to the Kafka client (idempotent, acks=all,
compressed, batched). When the broker goes away (all brokers down, a record failed, or no
progress for `stall_s`) the publisher purges what the client still holds, writes it to the
spool in the order it was handed over (producers/held.py), and from then on SPOOLING appends
every new record behind it. When the broker answers again DRAINING sends the spool, oldest
first, in rounds, while new records keep queueing behind in the spool; the round that
reaches the spool's end is waited for on the spot, and with the client and the spool both
empty, LIVE again. So per key (= per partition) the order never breaks across the
live/spool boundary.

The client reports failures only: what it delivered is what it was given, less what it
holds and what came back (`_count`).

The hot path writes nothing to disk. What is durable (see docs/producer.md): a record is
*accepted* once the broker acknowledged it or the spool committed it; `flush()` makes every
record handed over accepted, and a SIGKILL loses only records not yet accepted
(`counters.pending`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer

from iiot import topics
from iiot.contract import ContractError, dead_letter, decode, encode, letter_key
from iiot.kafka_security import kafka_config
from iiot.messages import DeviceBirth, Sample
from iiot.settings import Settings, get_settings
from iiot.topics import Topic
from producers.held import Held, Returned
from producers.kafka_client import client_config, transient
from producers.packer import Packer, packed, samples_in, unpacked, whole
from producers.probe import BrokerProbe
from producers.readings import device_id_in, fields_without_seq
from producers.seqs import SeqBook
from producers.spool import Record, Spool, SpoolFull
from producers.stats import Counters, Rate

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TELEMETRY = Topic.TELEMETRY
_ANY_PARTITION = -1  # the client's PARTITION_UA: the partitioner picks (by key)
_MS = timedelta(milliseconds=1)
_REFUSED = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL}


class Mode(StrEnum):
    LIVE = "live"
    SPOOLING = "spooling"
    DRAINING = "draining"


class ReadingRejected(ContractError):
    """A reading that broke the contract; it has been counted and dead-lettered."""


def event_time_ms(ts: datetime) -> int:
    return (ts - _EPOCH) // _MS


class Publisher:
    """Publishes records to the pipeline's topics; see the module docstring and
    docs/producer.md. Not thread-safe: one thread publishes and polls."""

    def __init__(
        self,
        settings: Settings | None = None,
        spool_path: str | Path | None = None,
        *,
        stall_s: float = 10.0,
        spool_batch: int = 10_000,
        spool_every_s: float = 0.1,
        drain_round: int = 20_000,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        path = spool_path or self.settings.spool_path or Path.cwd() / ".spool/producer.sqlite"
        self.spool = Spool(path, max_bytes=self.settings.spool_max_bytes)
        self.seqs = SeqBook(self.spool.path)  # in the spool's file, under the spool's lock
        self.counters = Counters()
        self._config = {**client_config(self.settings), **(config or {})}
        self._config["error_cb"] = self._on_error
        self._config["on_delivery"] = self._on_failure  # only failures are reported
        self._new_client()
        self._held = Held(self._config["queue.buffering.max.messages"])
        self._hold = self._held.append
        self._names = {topic: topics.name(topic, self.settings) for topic in Topic}
        self._telemetry = self._names[_TELEMETRY]
        self._stall_s, self._spool_batch, self._spool_every_s = stall_s, spool_batch, spool_every_s
        self._drain_round = drain_round
        self._batch_s = self.settings.producer_batch_ms / 1000
        self._packer = self._new_packer(self._send_packed) if self._batch_s else None
        self._rate = Rate()
        self._probe = BrokerProbe(kafka_config(self.settings))
        self._buffer: list[Record] = []  # new records on their way into the spool
        self._buffer_since = 0.0
        self._full: SpoolFull | None = None  # why the spool took not the buffer: refuse more
        self._full_at = 0.0  # when it last said so: poll() asks again a second later
        # Records handed over (samples) given to the client, live and from the spool, and
        # how many of each came back failed; the rest was delivered once the client no longer
        # holds it. A batch record counts its samples; `_live_records`: Kafka records.
        self._live_sent = self._live_failed = self._live_refused = self._live_records = 0
        self._drain_sent = self._drain_failed = 0
        self._returned: list[Returned] = []  # live records the client gave back
        self._round = 0  # spool rows in the client (the current drain round)
        self._round_records = 0  # the Kafka records they went in
        self._cursor = 0  # the last spool row handed to the client while draining
        self._outage = self._fatal = False
        self._progress = (0, time.monotonic())  # (delivered, when it last moved)
        # Records since the last poll (which counts them): sent live by the hot path, left
        # waiting for their batch record, and the others (already counted). Any of them
        # reaching 1,000 calls poll().
        self._unfolded = self._waiting_in = self._since_poll = 0
        self.mode = Mode.LIVE
        if len(self.spool):  # a previous run left records: they go first
            log.info("%d records wait in the spool %s: sending them first", len(self.spool), path)
            self._spool_from_now_on(outage=False)

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self._mode, self._live = mode, mode is Mode.LIVE

    # -- handing records over ------------------------------------------------------------

    def publish(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes,
        timestamp_ms: int,
        *,
        valid: bool = True,
    ) -> None:
        """Hand over one encoded record, unvalidated (the caller built it from the contract
        models, or it is a deliberately malformed one: say so with `valid=False`, and it is
        never packed with others). Key: the device_id; timestamp: the event time."""
        # The hot path, inlined: this runs 100,000+ times a second, so a record sent live
        # is only counted in `_unfolded` (or `_waiting_in`), and `_count()` adds those up.
        name = self._telemetry if topic is _TELEMETRY else self._names[topic]
        packer = self._packer
        if packer is not None and self._live:
            if topic is _TELEMETRY and valid and packer.plain(key, value):
                self._waiting_in += 1  # handed over
                if packer.add(key, value, timestamp_ms):  # type: ignore[arg-type]
                    if self._waiting_in >= 1_000:
                        self.poll(0)
                else:  # its device's full record found the broker away: spooled behind it
                    self._to_spool(Record(name, key, value, timestamp_ms))
                return
            if key in packer:  # its device's waiting samples go first (and may find the
                packer.send_key(key)  # broker away: then this one is spooled behind them)
        if self._live:
            try:  # positional: keyword arguments cost the client a dict per call
                self._produce(name, value, key, _ANY_PARTITION, None, None, timestamp_ms)
            except BufferError:
                self.counters.handed += 1
                self._produce_when_room(name, key, value, timestamp_ms)
            else:
                self._hold((name, key, value, timestamp_ms))
                self._unfolded += 1
                if self._unfolded >= 1_000:
                    self.poll(0)
                return
        else:
            if self._full is not None:
                self._refuse()
            self.counters.handed += 1
            self._to_spool(Record(name, key, value, timestamp_ms))
        self._since_poll += 1
        if self._since_poll >= 1_000:
            self.poll(0)

    def publish_batch(self, records: Iterable[Sequence[Any]]) -> None:
        """`publish()` for each record in turn, same order and same outcome; a record is
        `(topic, key, value, timestamp_ms, valid, _)` (the simulator's `Emitted`). One Python
        call per batch instead of one per record, the client's produce, the ring and the
        packer bound to locals: while live, a record costs only the produce call and its ring
        entry, or its place in its device's batch. Anything else (not live, the client's
        queue full, a record that is not packed while packing) goes through `publish()`."""
        produce, hold, telemetry, names = self._produce, self._hold, self._telemetry, self._names
        telemetry_topic, any_partition, packer = _TELEMETRY, _ANY_PARTITION, self._packer
        plain, wait = (packer.plain, packer.add) if packer is not None else (None, None)
        live, room = self._live, self._room()  # mode only changes in the calls below
        sent = waited = 0  # sent live / left waiting, not yet in `_unfolded` / `_waiting_in`
        refused: SpoolFull | None = None  # the rest of the batch is offered all the same
        try:
            for topic, key, value, timestamp_ms, valid, _ in records:
                if live and plain is not None:  # packing: a plain sample waits for its record
                    if topic is telemetry_topic and valid and plain(key, value):
                        waited += 1  # handed over
                        if not wait(key, value, timestamp_ms):  # type: ignore[misc]
                            self._to_spool(Record(telemetry, key, value, timestamp_ms))
                            live = False  # the broker went away: publish() spools the rest
                            continue
                        if sent + waited >= room:
                            self._unfolded += sent
                            self._waiting_in += waited
                            sent = waited = 0
                            self.poll(0)
                            live, room = self._live, self._room()
                        continue
                elif live:
                    name = telemetry if topic is telemetry_topic else names[topic]
                    try:
                        produce(name, value, key, any_partition, None, None, timestamp_ms)
                    except BufferError:
                        pass  # publish() tries again and waits for room
                    else:
                        hold((name, key, value, timestamp_ms))
                        sent += 1
                        if sent >= room:
                            self._unfolded += sent
                            sent = 0
                            self.poll(0)
                            live, room = self._live, self._room()
                        continue
                self._unfolded += sent
                self._waiting_in += waited
                sent = waited = 0
                try:
                    self.publish(topic, key, value, timestamp_ms, valid=valid)
                except SpoolFull as full:
                    refused = full
                live, room = self._live, self._room()
        finally:
            self._unfolded += sent
            self._waiting_in += waited
        if refused is not None:
            raise refused

    def _room(self) -> int:
        """Records the hot path may take before it calls poll()."""
        return 1_000 - self._unfolded - self._waiting_in

    def publish_sample(self, sample: Sample) -> None:
        """A sample built with the contract model (so already valid), seq included."""
        try:
            self.seqs.saw(sample.device_id, sample.seq)
        except SpoolFull:  # no room to reserve seqs: refused like a record
            self.counters.refused += 1
            raise
        self.publish(
            Topic.TELEMETRY, sample.device_id.encode(), encode(sample), event_time_ms(sample.ts)
        )

    def publish_birth(self, birth: DeviceBirth) -> None:
        self.publish(Topic.REGISTRY, birth.device_id.encode(), encode(birth), _now_ms())

    def publish_reading(self, reading: bytes | str | Mapping[str, Any]) -> Sample:
        """Validate a reading from outside (JSON text or a dict) and publish it.

        A reading without `seq` gets the device's next one (`self.seqs`: rising by one,
        never repeated, also across restarts); one with `seq` keeps it. Raises
        `ReadingRejected` (a `ContractError`: `.code`, `.reason`) when it breaks the
        contract, after counting it and sending it to `iiot.deadletter` with the reason; a
        refused reading takes no seq. Raises `SpoolFull` (counted in `counters.refused`) when
        the broker is away and the spool has no room: the reading was not taken.
        """
        raw = reading if isinstance(reading, bytes | str) else orjson.dumps(reading)
        unnumbered = fields_without_seq(reading, raw)
        try:
            if unnumbered is None:
                sample = decode(Sample, raw)
            else:  # validated with a stand-in seq, so that only a valid reading takes one
                sample = decode(Sample, orjson.dumps({**unnumbered, "seq": 0}))
        except ContractError as error:
            self.counters.invalid += 1
            value = raw.encode() if isinstance(raw, str) else raw
            self._dead_letter(error, Topic.TELEMETRY, device_id_in(value), value, None)
            raise ReadingRejected(error.code, error.reason) from None
        if unnumbered is not None:
            try:
                seq = self.seqs.next(sample.device_id)
            except SpoolFull:
                self.counters.refused += 1
                raise
            sample = sample.model_copy(update={"seq": seq})
        self.publish_sample(sample)
        return sample

    # -- serving the client ----------------------------------------------------------------

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports, notice outages, commit the spool, drain it. Call it often
        (publish() does, every 1,000 records) and while idle."""
        self._since_poll = 0
        if self._packer is not None and self._live:
            self._packer.send_due()
        self._producer.poll(timeout_s)
        in_client = self._count()
        now = time.monotonic()
        if self.counters.delivered != self._progress[0] or not in_client:
            self._progress = (self.counters.delivered, now)
        elif self.mode is not Mode.SPOOLING and now - self._progress[1] > self._stall_s:
            log.warning("no acknowledgement from Kafka for %.0f s: spooling", self._stall_s)
            self._outage = True
        if self._outage:
            self._spool_from_now_on()
        due = now - self._buffer_since >= self._spool_every_s and now - self._full_at >= 1.0
        if self._buffer and due:
            self._commit_buffer()
        if self.mode is Mode.SPOOLING and self._probe.up.is_set():
            log.info("Kafka answers again: draining %d spooled records", len(self.spool))
            self.mode, self._cursor = Mode.DRAINING, 0
        if self.mode is Mode.DRAINING:
            self._drain()

    def send_waiting(self, within_s: float = 0.0) -> None:
        """Send the batch records whose oldest sample has waited `IIOT_PRODUCER_BATCH_MS`, or
        will have within `within_s`: call it before the caller pauses that long (poll()
        sends those due, too)."""
        if self._packer is not None and self._live:
            self._packer.send_due(within_s)

    def rate(self) -> float:
        """Records delivered per second, over the last two seconds."""
        return self._rate.update(self.counters.delivered)

    def flush(self, timeout_s: float = 30.0, *, wait_for_broker: bool = True) -> int:
        """Wait until Kafka has every record (spool included), at most `timeout_s` (without
        `wait_for_broker`: not at all while the broker is away); then what it has not taken
        is written to the spool. Returns the records left in the spool."""
        deadline = time.monotonic() + timeout_s
        if self._packer is not None and self._live:
            self._packer.send_all()
        while time.monotonic() < deadline:
            self.poll(0.05)
            if self.mode is Mode.LIVE and not len(self._producer):
                break
            if self.mode is Mode.SPOOLING and not wait_for_broker:
                break
        if len(self._producer):
            self._spool_from_now_on(outage=False)
        self._commit_buffer()
        self._count()
        return len(self.spool)

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush (see there), then release the spool. Returns the records left in it."""
        left = self.flush(timeout_s, wait_for_broker=False)
        if self._buffer:  # handed over, so counted in `pending`: say it, too
            log.error("%d records found no room in the spool and are lost", len(self._buffer))
        self._probe.close()
        self.seqs.close()
        self.spool.close()
        return left

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- inside ------------------------------------------------------------------------------

    def _produce_when_room(
        self,
        name: str,
        key: bytes | None,
        value: bytes,
        ts: int,
        samples: list[Record] | None = None,
    ) -> None:
        """The client's queue is full: let it deliver some, then try again. `samples`: those
        a batch record carries, spooled one by one should the broker go away meanwhile."""
        while True:
            self.poll(0.05)
            if self.mode is not Mode.LIVE:  # …the broker went away meanwhile
                for record in samples or [Record(name, key, value, ts)]:
                    self._to_spool(record)
                return
            try:
                self._producer.produce(name, value, key, timestamp=ts)
            except BufferError:
                continue
            self._hold((name, key, hash(value) if samples else value, ts))  # see held.py
            self._live_sent += len(samples) if samples else 1
            self._live_records += 1
            return

    def _send_packed(self, key: bytes, values: list[bytes], stamps: list[int]) -> bool:
        """One device's waiting samples to the client, as one record (the Packer's `send`).
        Its timestamp is the first sample's event time (see producers/packer.py). False if
        the broker went away and they were spooled instead."""
        name, value, ts = self._telemetry, packed(key, values), stamps[0]
        if self._live:
            try:
                self._produce(name, value, key, _ANY_PARTITION, None, None, ts)
            except BufferError:
                pass
            else:
                kept = value if len(values) == 1 else hash(value)  # not its bytes: held.py
                self._hold((name, key, kept, ts))
                self._live_sent += len(values)
                self._live_records += 1
                return True
        samples = [Record(name, key, v, t) for v, t in zip(values, stamps, strict=True)]
        if self._live:
            self._produce_when_room(name, key, value, ts, samples)
        else:
            for record in samples:
                self._to_spool(record)
        return self._live

    def _new_packer(self, send: Callable[[bytes, list[bytes], list[int]], bool]) -> Packer:
        max_bytes = self.settings.producer_batch_bytes
        return Packer(send, latency_s=self._batch_s, max_bytes=max_bytes)

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

    def _new_client(self) -> None:
        self._producer = Producer(self._config)
        self._produce = self._producer.produce

    def _count(self) -> int:
        """Bring the counters up to date; the records the client holds."""
        if self._unfolded:  # what the hot path sent since
            self.counters.handed += self._unfolded
            self._live_sent += self._unfolded
            self._live_records += self._unfolded
            self._unfolded = 0
        if self._waiting_in:  # …and what it left waiting for a batch record
            self.counters.handed += self._waiting_in
            self._waiting_in = 0
        in_client = len(self._producer)
        # The client counts records and reports failures only: the samples it still holds
        # are estimated from the samples per record (exact when records are single samples,
        # and whenever the client is empty, as after flush()).
        if self._round:
            live_held, drain_held = 0, _share(in_client, self._round, self._round_records)
        else:
            live_unsettled = self._live_sent - self._live_failed
            live_held = _share(in_client, self._live_sent, self._live_records, live_unsettled)
            drain_held = 0
        live = self._live_sent - self._live_failed - live_held
        counters = self.counters
        counters.sent = self._live_sent + self._drain_sent
        counters.drained = self._drain_sent - self._drain_failed - drain_held
        counters.delivered = live + counters.drained
        counters.accepted = live + counters.spooled + self._live_refused
        return in_client

    def _on_failure(self, err: KafkaError, msg: Message) -> None:
        """A live record came back (the client reports nothing else)."""
        samples = samples_in(msg.value())  # a batch record: all of its samples
        self._live_failed += samples
        if transient(err):  # spooled, in order, by _spool_from_now_on
            self._outage = True
            self.counters.taken_back += samples
            self._returned.append((msg.topic(), msg.key(), msg.value()))
        else:
            self._live_refused += samples
            self._refused(err, msg, self._held.event_time(msg.topic(), msg.key(), msg.value()))

    def _on_drained(self, err: KafkaError | None, msg: Message) -> None:
        """Spool rows came back: they stay in the spool, or are dead-lettered if refused."""
        if err is None:
            return  # delivered (the client reports failures only)
        self._drain_failed += samples_in(msg.value())
        if transient(err):
            self._outage = True  # the rows stay; draining starts over from the oldest
        else:
            self._refused(err, msg, None)  # deleted with its round

    def _refused(self, err: KafkaError, msg: Message, timestamp_ms: int | None) -> None:
        """A record Kafka refused for good: counted and dead-lettered per record handed over
        (a batch record's samples each on its own: no sample goes unaccounted)."""
        log.error("Kafka refused a record for %s: %s", msg.topic(), err.str())
        record = Record(msg.topic() or "", msg.key(), msg.value(), timestamp_ms or -1)
        samples = unpacked(record) if msg.topic() == self._telemetry else [record]
        self.counters.failed += len(samples)
        if msg.topic() == self._names[Topic.DEADLETTER]:
            return  # a dead letter that cannot be written is only counted
        try:
            source: Topic | None = topics.logical(msg.topic(), self.settings)
        except ValueError:
            source = None
        error = ContractError("broker_refused", f"Kafka refused the record: {err.str()}")
        for sample in samples:
            ts = None if sample.timestamp_ms < 0 else sample.timestamp_ms
            self._dead_letter(error, source, sample.key, sample.value, ts)

    def _dead_letter(
        self,
        error: ContractError,
        source: Topic | None,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None,
    ) -> None:
        letter = dead_letter(
            "producer",
            error,
            value,
            topic=source and source.value,
            key=key,
            timestamp_ms=timestamp_ms,
        )
        self.counters.dead_lettered += 1
        with contextlib.suppress(SpoolFull):  # counted in `refused`; may run in a callback
            self.publish(
                Topic.DEADLETTER, letter_key(key), encode(letter), timestamp_ms or _now_ms()
            )

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = True
        if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
            self._outage = True
        # Wrong credentials or TLS setup: no retry helps, so say it (the records spool).
        refused = err.code() in _REFUSED
        level = logging.ERROR if refused else logging.WARNING if err.fatal() else logging.DEBUG
        log.log(level, "Kafka client: %s", err.str())


def _share(in_client: int, samples: int, records: int, most: int | None = None) -> int:
    """The samples in `in_client` of `records` records that carry `samples` (rounded up)."""
    if not in_client or not records:
        return 0
    share = -(-in_client * samples // records)
    return share if most is None else min(share, most)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
