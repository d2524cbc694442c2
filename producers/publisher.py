"""The Publisher: records to Kafka, through the disk spool whenever the broker is away.

Records go straight to the Kafka client (idempotent, acks=all, compressed, batched) while
the broker is there (LIVE); how an outage spools them and the spool drains back, in order:
producers/spooling.py; what the client's reports make of the counters: producers/delivery.py.
Here: the hand-over paths (the hot path among them), poll/flush/close, and the wiring.

The hot path writes nothing to disk. What is durable (see docs/producer.md): a record is
*accepted* once the broker acknowledged it or the spool committed it; `flush()` makes every
record handed over accepted, and a SIGKILL loses only records not yet accepted
(`counters.pending`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from iiot import topics
from iiot.contract import ContractError, decode, encode
from iiot.kafka_security import kafka_config
from iiot.messages import DeviceBirth, Reading, Sample
from iiot.settings import Settings, get_settings
from iiot.topics import Topic
from producers.delivery import Delivery, now_ms
from producers.held import Held, Returned
from producers.kafka_client import client_config
from producers.packer import Packer, packed
from producers.probe import BrokerProbe
from producers.readings import device_id_in
from producers.seqs import SeqBook
from producers.spool import Record, Spool, SpoolFull
from producers.spooling import Mode, Spooling
from producers.stats import Counters, Rate

__all__ = ["Mode", "Publisher", "ReadingRejected", "event_time_ms"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TELEMETRY = Topic.TELEMETRY
_ANY_PARTITION = -1  # the client's PARTITION_UA: the partitioner picks (by key)
_MS = timedelta(milliseconds=1)


class ReadingRejected(ContractError):
    """A reading that broke the contract; it has been counted and dead-lettered."""


def event_time_ms(ts: datetime) -> int:
    return (ts - _EPOCH) // _MS


class Publisher(Spooling, Delivery):
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
        self.publish(Topic.REGISTRY, birth.device_id.encode(), encode(birth), now_ms())

    def publish_reading(
        self, reading: bytes | str | Mapping[str, Any], model: type[Reading] = Reading
    ) -> Sample:
        """Validate a reading from outside (JSON text or a dict) and publish it.

        A reading without `seq` gets the device's next one (`self.seqs`: rising by one,
        never repeated, also across restarts); one with `seq` keeps it (`model=Sample`: a
        reading must have one, else it is refused like any invalid one). Raises
        `ReadingRejected` (a `ContractError`: `.code`, `.reason`) when it breaks the
        contract, after counting it and sending it to `iiot.deadletter` with the reason; a
        refused reading takes no seq. Raises `SpoolFull` (counted in `counters.refused`) when
        the broker is away and the spool has no room: the reading was not taken.
        """
        raw = reading if isinstance(reading, bytes | str) else orjson.dumps(reading)
        try:
            valid = decode(model, raw)  # validated first, so that only a valid one takes a seq
        except ContractError as error:
            self.counters.invalid += 1
            value = raw.encode() if isinstance(raw, str) else raw
            self._dead_letter(error, Topic.TELEMETRY, device_id_in(value), value, None)
            raise ReadingRejected(error.code, error.reason) from None
        seq = valid.seq
        if seq is None:
            try:
                seq = self.seqs.next(valid.device_id)
            except SpoolFull:
                self.counters.refused += 1
                raise
        sample = valid.numbered(seq)
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
        max_bytes, span_s = self.settings.producer_batch_bytes, self.settings.producer_batch_span_s
        return Packer(send, latency_s=self._batch_s, max_bytes=max_bytes, max_span_ms=span_s * 1000)

    def _new_client(self) -> None:
        self._producer = Producer(self._config)
        self._produce = self._producer.produce
