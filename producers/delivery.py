"""Delivery accounting: what the Kafka client reports, and what it makes of the counters
(a mixin of `Publisher`).

The client reports failures only (`delivery.report.only.error`, producers/held.py says
why): what it delivered is what it was given, less what it holds and what came back
(`_count`). A record Kafka refuses for good is dead-lettered, one letter per sample.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import cast

from confluent_kafka import KafkaError, Message, Producer

from iiot import topics
from iiot.contract import ContractError, dead_letter, encode, letter_key
from iiot.settings import Settings
from iiot.topics import Topic
from producers.held import Held, Returned
from producers.kafka_client import transient
from producers.packer import samples_in, unpacked
from producers.spool import Record, SpoolFull
from producers.stats import Counters

log = logging.getLogger(__name__)

_REFUSED = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL}


class Delivery:
    """The client's reports and the counters. Its state is set up (and said what it is) in
    `Publisher.__init__`: the hot path counts its records in `_unfolded` and `_waiting_in`
    itself. Declared here for the type checker."""

    # The Publisher's, used here.
    settings: Settings
    counters: Counters
    _producer: Producer
    _held: Held
    _names: dict[Topic, str]
    _telemetry: str
    _outage: bool
    _fatal: bool
    _round: int
    _round_records: int
    _drain_sent: int
    _drain_failed: int
    publish: Callable[..., None]
    # Its own.
    _unfolded: int
    _waiting_in: int
    _live_sent: int
    _live_failed: int
    _live_refused: int
    _live_records: int
    _returned: list[Returned]

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
        topic = cast(str, msg.topic())  # a delivery report always names its topic
        if transient(err):  # spooled, in order, by _spool_from_now_on
            self._outage = True
            self.counters.taken_back += samples
            self._returned.append((topic, msg.key(), msg.value()))
        else:
            self._live_refused += samples
            self._refused(err, msg, self._held.event_time(topic, msg.key(), msg.value()))

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
            source: Topic | None = topics.logical(cast(str, msg.topic()), self.settings)
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
                Topic.DEADLETTER, letter_key(key), encode(letter), timestamp_ms or now_ms()
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


def now_ms() -> int:
    """Wall-clock time in ms: the timestamp of a record with no event time."""
    return time.time_ns() // 1_000_000
