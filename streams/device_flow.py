"""The device flow: records of iiot.registry and iiot.telemetry in, device windows, alarms
and dead letters out.

Both topics have the same key and partition count, so a device's birth and samples meet
in one worker. Each sample is checked (contract, key, future guard) before it touches any
state; a sample of a device without a birth is held for it (streams/held.py); the rest go
to the device's state (streams/devices.py). Bad input never stops the flow: each refused
record is one dead letter, and a record that makes the flow itself raise is one too
(`internal_error`).

A telemetry record is one Sample or a batch record (iiot/wire/sample_batch.py). A batch
whose envelope or key is wrong is one letter for the record; otherwise its samples go on
one by one, in the record's order, exactly as if each were its own record, and a sample
refused (or that makes the flow raise) is a letter with its `sample_index`, its payload
the sample as a record of its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import faust
import orjson

from iiot import topics
from iiot.contract import ContractError, encode, letter_key
from iiot.messages import DeviceBirth
from iiot.oee import Reading
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import Batch as BatchRecord
from iiot.wire.sample_batch import sample_json
from streams.batch import Batch, Outbox
from streams.clock import PartitionClocks
from streams.devices import Devices
from streams.feed import Fed, clock_record, feed_record
from streams.held import HeldSamples, where_of
from streams.ingest import (
    FutureGuard,
    Source,
    batched_reading,
    fast_reading,
    read_batch,
    read_birth,
    read_sample,
)

log = logging.getLogger("iiot.streams")
Event = faust.EventT[Any]  # a record of iiot.registry or iiot.telemetry, key and value bytes

SWEEP_EVERY_MS = 5_000  # of event time, per partition: how often to look for silent devices


class DeviceFlow:
    def __init__(
        self,
        settings: Settings,
        devices: Devices,
        *,
        held_table: faust.Table[str, bytes],
        clock_table: faust.Table[str, bytes],
        feed: faust.TopicT,
        deadletter_out: faust.TopicT,
        counters: defaultdict[str, int],
    ) -> None:
        self.settings, self.devices, self.counters = settings, devices, counters
        self.registry_topic = topics.name(Topic.REGISTRY, settings)
        self.feed, self.feed_topic = feed, feed.get_topic_name()
        self.deadletter_out = deadletter_out
        self.future = FutureGuard(
            settings.future_tolerance_s * 1000, restored=lambda *at: self.clocks.at(*at)
        )
        # partition → its FutureGuard state at its last batch ends, for its next owner
        self.clocks = PartitionClocks(clock_table, self.future)
        self.clocks_fed: dict[int, int] = {}  # partition → the newest time sent on the feed
        self.held = HeldSamples(held_table)
        self.swept_ms: dict[int, int] = {}  # partition → event time of its last sweep
        # partition → the newest time a record of it began at: what offline alarms measure
        # silence against. A batch record's first sample, not its last: the next device's
        # record over the same seconds is still to come (producers/packer.py), so a device
        # is found offline up to a record's span later, never falsely.
        self.heard_ms: dict[int, int] = {}

    # -- records in --------------------------------------------------------------------

    def take(self, batch: Batch, event: Event) -> None:
        """One record into the batch; never raises."""
        try:
            self.ingest(batch, event)
        except Exception as exc:  # a bug must not stop the pipeline: dead-letter, go on
            source = self.source_of(event)
            log.exception("record %s:%s:%s failed", source.topic, source.partition, source.offset)
            error = ContractError("internal_error", f"{type(exc).__name__}: {exc}")
            self.refuse(batch, source, error)

    def ingest(self, batch: Batch, event: Event) -> None:
        """One record from iiot.registry or iiot.telemetry."""
        message = event.message
        partition = message.partition
        future = self.future
        try:
            if message.topic == self.registry_topic:
                source = self.source_of(event)
                self.register(batch, partition, read_birth(source), source.value or b"")
                return
            if partition not in future.resumed:  # its first record since it was assigned
                future.resume(partition, message.offset)
            batch.ends[partition] = message.offset + 1
            # Plainly valid samples skip pydantic; anything else is read (or refused) by it.
            read = fast_reading(event.key, event.value) or self.read(event)
            if isinstance(read, BatchRecord):
                self.take_samples(batch, event, read)  # raises nothing: each sample on its own
                return
            device_id, reading = read
            future.check(partition, reading.ts_ms)
        except ContractError as error:
            self.refuse(batch, self.source_of(event), error)
            return
        self.accept(batch, event, device_id, reading)

    def read(self, event: Event) -> tuple[str, Reading] | BatchRecord:
        """A batch record, or a Sample the fast path declined; `ContractError` says why not."""
        record = read_batch(event.key, event.value)
        if record is not None:
            return record
        sample = read_sample(self.source_of(event))
        return sample.device_id, Reading.of(sample)

    def take_samples(self, batch: Batch, event: Event, record: BatchRecord) -> None:
        """The samples of a batch record, each on its own as if it were a record."""
        device_id, partition = record.device_id, event.message.partition
        check = self.future.check
        first = True  # no sample of the record accepted yet
        for index, element in enumerate(record.samples):
            try:
                try:
                    reading = batched_reading(device_id, element)
                    check(partition, reading.ts_ms)
                except ContractError as error:
                    self.refuse_at(batch, event, error, device_id, index, element)
                    continue
                self.accept(batch, event, device_id, reading, index, element, heard=first)
                first = False
            except Exception as exc:  # as `take` does for a record: this sample only
                log.exception("sample %s of record %s:%s failed", index, partition,
                              event.message.offset)  # fmt: skip
                failed = ContractError("internal_error", f"{type(exc).__name__}: {exc}")
                self.refuse_at(batch, event, failed, device_id, index, element)

    def accept(
        self,
        batch: Batch,
        event: Event,
        device_id: str,
        reading: Reading,
        index: int | None = None,
        element: Any = None,
        heard: bool = True,
    ) -> None:
        """A sample that passed the checks (`index`, `element`: which of a batch record;
        `heard`: it begins its record, so the partition is heard up to its time)."""
        devices, partition = self.devices, event.message.partition
        devices.partition_of[device_id] = partition
        if heard and reading.ts_ms > self.heard_ms.get(partition, reading.ts_ms - 1):
            self.heard_ms[partition] = reading.ts_ms
        now_ms = self.future.newest_ms.get(partition)  # None until the partition's time is known
        if now_ms is not None and now_ms - self.swept_ms.get(partition, 0) >= SWEEP_EVERY_MS:
            self.sweep_silent(batch, partition, now_ms)
        config = devices.config_for.copies.get(device_id) or devices.config_for(device_id)
        if config is None:
            self.hold(batch, event, device_id, reading, index, element)
            return
        devices.apply(batch, config, device_id, reading)

    def register(self, batch: Batch, partition: int, birth: DeviceBirth, raw: bytes) -> None:
        config = self.devices.register(batch, partition, birth, raw)
        batch.send(self.feed, b"birth", raw)
        self.counters["births"] += 1
        released = self.held.release(batch, birth.device_id)
        for _, reading in released.rows if released else ():  # validated when held
            self.devices.apply(batch, config, birth.device_id, reading)

    def source_of(self, event: Event) -> Source:
        """Where a record came from: made only for one that is refused, held or a birth."""
        message = event.message
        return Source(
            topic=topics.logical(message.topic, self.settings).value,
            partition=message.partition,
            offset=message.offset,
            key=event.key,
            value=event.value,
            timestamp_ms=round(message.timestamp * 1000) if message.timestamp else None,
        )

    def refuse(
        self, batch: Batch, source: Source, error: ContractError, sample_index: int = 0
    ) -> None:
        self.counters[f"deadletter.{error.code}"] += 1
        letter = encode(source.refuse(error, sample_index))
        batch.send(self.deadletter_out, letter_key(source.key) or b"", letter)

    def refuse_at(
        self,
        batch: Batch,
        event: Event,
        error: ContractError,
        device_id: str,
        index: int | None,
        element: Any,
    ) -> None:
        """The record refused; or its sample `index` alone, if it is a batch record."""
        source = self.source_of(event)
        if index is None:
            self.refuse(batch, source, error)
            return
        self.refuse(batch, replace(source, value=sample_json(device_id, element)), error, index)

    # -- samples waiting for their birth -----------------------------------------------

    def hold(
        self,
        batch: Batch,
        event: Event,
        device_id: str,
        reading: Reading,
        index: int | None = None,
        element: Any = None,
    ) -> None:
        """Keep samples that came before their device's birth (streams/held.py)."""
        message = event.message
        held = self.held
        why_not = held.hold(
            batch, device_id, message.partition, message.offset, reading, index or 0
        )
        if why_not:
            error = unknown_device(device_id, why_not)
            self.refuse_at(batch, event, error, device_id, index, element)
            return
        self.counters["held"] += 1

    def sweep_silent(self, batch: Batch, partition: int, now_ms: int) -> None:
        """Held samples past their time and offline alarms of the partition's silent devices
        (called every SWEEP_EVERY_MS of the partition's event time, `now_ms`). Silence is
        measured against `heard_ms`: with one-sample records the same time."""
        self.swept_ms[partition] = now_ms
        self.expire_held(batch, partition, now_ms)
        self.devices.sweep_silent(batch, partition, self.heard_ms.get(partition, now_ms))

    def expire_held(self, batch: Batch, partition: int, now_ms: int) -> None:
        """Held samples too old for a birth to come: one dead letter each, where it came
        from; the payload is the held reading, the original bytes are not kept."""
        for device_id, where, reading in self.held.expire(batch, partition, now_ms):
            offset, index = where_of(where)
            key = device_id.encode()
            value = orjson.dumps(dict(zip(Reading._fields, reading, strict=True)))
            source = Source(Topic.TELEMETRY.value, partition, offset, key, value, None)  # type: ignore[arg-type]
            why = "held past its time (payload: the reading held, not the original record)"
            self.refuse(batch, source, unknown_device(device_id, why), index)

    # -- out -----------------------------------------------------------------------------

    def write(self, batch: Batch) -> Outbox:
        """The batch's state (one changelog record per touched device), then its results."""
        self.devices.write(batch)
        self.held.write(batch)
        self.clocks.write(batch)
        # The clocks after the batch's final windows: sent with an emit, a clock ran ahead
        # of the open batch, which after an outage spans an hour or more.
        feed = self.feed_topic
        return [
            *batch.out,
            *feed_record(feed, batch.feed),
            *clock_record(feed, self.moved_clocks(batch)),
        ]

    def moved_clocks(self, batch: Batch) -> dict[int, int]:
        """The batch's partitions whose newest time moved since it was last sent: a record
        each batch would keep the feed from going quiet, which iiot demo waits for."""
        moved = {}
        for partition in batch.ends:
            ms = self.future.newest_ms.get(partition)
            if ms is not None and self.clocks_fed.get(partition) != ms:
                moved[partition] = self.clocks_fed[partition] = ms
        return moved

    def emit(self) -> Outbox:
        """The device windows changed since the last emit (the timer's)."""
        out: Outbox = []
        fed: Fed = []
        self.devices.changed_windows(out, fed)
        return [*out, *feed_record(self.feed_topic, fed)]

    # -- partitions moving -------------------------------------------------------------

    def revoked(self, partitions: Iterable[int]) -> None:
        """After the open batch was written: drop the decoded copies, the tables are the
        truth for whoever holds the partitions next."""
        self.devices.drop_copies()
        self.moved(partitions)

    def moved(self, partitions: Iterable[int]) -> None:
        """Partitions revoked or assigned: their event time is what their changelog says
        where the stream resumes (streams/clock.py), not what this worker last saw."""
        numbers = set(partitions)
        self.future.forget(numbers)
        self.clocks.forget(numbers)
        for number in numbers:
            self.clocks_fed.pop(number, None)
            self.swept_ms.pop(number, None)
            self.heard_ms.pop(number, None)


def unknown_device(device_id: str, why: str) -> ContractError:
    return ContractError(
        "unknown_device",
        f"device_id: no DeviceBirth for {device_id!r} on iiot.registry, {why}: "
        "publish the birth first",
    )
