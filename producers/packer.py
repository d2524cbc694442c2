"""Packing: a device's waiting samples into one batch record (iiot/wire/sample_batch.py).

The stream worker pays a fixed cost per Kafka record whatever it carries, so when a device
has several samples waiting — `iiot simulate --speed max`, a drained spool, a replay — they
go as one record. Per device the packer keeps the samples waiting, their bytes and when the
oldest came. A device's waiting samples are sent when the next one would pass the record
size bound, the sample-count bound or the event-time span bound, when the oldest has
waited the latency bound
(`send_due`, from the Publisher's poll), or when something else of that device must go
first (`send_key`: per-device order is kept exactly). One sample waiting goes as the plain
Sample record it is: a real-time 1 Hz device, whose samples are a second apart, never has
two waiting within the default 200 ms, so its records stay one-sample records.

The span bound (a minute of event time by default) keeps the devices of one producer
together in event time: records go out in the order their samples came, so no device runs
ahead of the others by more than a record's span. The stream measures time across devices
(the roll-ups forget windows an hour behind the newest, the offline sweep and the future
guard read a partition's newest time): a drained spool packed without it sends a device's
whole backlog before the next device's, and the roll-ups may forget windows the later
devices still have to add to.

A batch record's Kafka timestamp is its first sample's event time: a device's record times
keep rising with its samples, and whatever looks at record times only (retention, a seek by
time, a replay) meets every sample of the record no earlier than it would have alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from iiot.contract import ContractError
from iiot.types import MAX_BATCH_SAMPLES
from iiot.wire.sample_batch import is_batch, pack, sample_json, unpack
from producers.spool import Record

# Sends one record of a device: (key, sample values, their timestamps), plain if one value.
# False: it went elsewhere (the Publisher found the broker away), so packing must stop.
Send = Callable[[bytes, list[bytes], list[int]], bool]
# The batch's own bytes (`{"v":1,"device_id":…,"samples":[]}`) beyond its samples', which
# `size` counts with the heads `pack` cuts off, so a little more than they take.
_ENVELOPE = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class Waiting:
    """One device's samples waiting, their event times and bytes, when the first came."""

    __slots__ = ("since", "size", "stamps", "values")

    def __init__(self, value: bytes, timestamp_ms: int, since: float) -> None:
        self.values = [value]
        self.stamps = [timestamp_ms]
        self.size = len(value)
        self.since = since


class Packer:
    """The samples waiting, per device (key), oldest device first."""

    def __init__(
        self,
        send: Send,
        *,
        latency_s: float,
        max_bytes: int,
        max_samples: int = MAX_BATCH_SAMPLES,
        max_span_ms: int = 60_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.latency_s = latency_s
        self._max_bytes = max_bytes - _ENVELOPE
        self._max_samples = max_samples
        self._max_span_ms = max_span_ms
        self._clock = clock
        # In the order each device's first waiting sample came (re-inserted after a send).
        self._waiting: dict[bytes, Waiting] = {}
        self._heads: dict[bytes, bytes] = {}

    def __len__(self) -> int:
        """Devices with samples waiting."""
        return len(self._waiting)

    def __contains__(self, key: bytes | None) -> bool:
        return key in self._waiting

    def plain(self, key: bytes | None, value: bytes | None) -> bool:
        """Is `value` a sample of `key`'s device in the usual spelling (`iiot.contract.encode`,
        simulators/wire.py), which `pack` cuts as bytes? Anything else goes alone."""
        if not key or value is None:
            return False
        head = self._heads.get(key)
        if head is None:
            head = self._heads[key] = b'{"v":1,"device_id":' + orjson.dumps(key.decode()) + b","
        return value.startswith(head) and value.endswith(b"}")

    def add(self, key: bytes, value: bytes, timestamp_ms: int) -> bool:
        """A plain sample of `key`'s device (see `plain`), to wait for its record. False: not
        taken, since sending the full record before it found packing stopped (`Send`)."""
        waiting = self._waiting.get(key)
        if waiting is None:
            self._waiting[key] = Waiting(value, timestamp_ms, self._clock())
        elif (
            waiting.size + len(value) >= self._max_bytes
            or len(waiting.values) >= self._max_samples
            or timestamp_ms - waiting.stamps[0] >= self._max_span_ms
        ):
            if not self.send_key(key):
                return False
            self._waiting[key] = Waiting(value, timestamp_ms, self._clock())
        else:
            waiting.values.append(value)
            waiting.stamps.append(timestamp_ms)
            waiting.size += len(value)
        return True

    def send_key(self, key: bytes | None) -> bool:
        """Send what waits of `key`'s device now (before a record of it that goes alone).
        False if the record went elsewhere (`Send`)."""
        waiting = self._waiting.pop(key, None)  # type: ignore[arg-type]
        if waiting is None:
            return True
        return self._send(key, waiting.values, waiting.stamps)  # type: ignore[arg-type]

    def send_due(self, within_s: float = 0.0) -> None:
        """Send every device whose oldest sample has waited the latency bound, or will have
        within `within_s` (before a pause that long)."""
        if not self._waiting:
            return
        came_by = self._clock() + within_s - self.latency_s
        while self._waiting:
            key, waiting = next(iter(self._waiting.items()))
            if waiting.since > came_by:
                return  # the others came later still
            self.send_key(key)

    def send_all(self) -> None:
        """Send everything waiting, oldest device first."""
        while self._waiting:
            self.send_key(next(iter(self._waiting)))

    def take_all(self) -> list[tuple[bytes, bytes, int]]:
        """Everything waiting as (key, value, timestamp_ms), unsent, oldest device first."""
        taken = [
            (key, value, stamp)
            for key, waiting in self._waiting.items()
            for value, stamp in zip(waiting.values, waiting.stamps, strict=True)
        ]
        self._waiting.clear()
        return taken


def packed(key: bytes, values: list[bytes]) -> bytes:
    """One record's value for `values` (plain samples of `key`'s device): the sample itself
    if there is one."""
    return values[0] if len(values) == 1 else pack(key.decode(), values)


def samples_in(value: bytes | None) -> int:
    """How many samples a record carries: those of a batch record, else 1 (a Sample, a
    birth, a dead letter, a malformed payload)."""
    batch = _batch(value)
    return 1 if batch is None else len(batch[1])


def unpacked(record: Record) -> list[Record]:
    """A batch record as the one-sample records it was packed from (a record the client gave
    back goes to the spool sample by sample); any other record as it is."""
    batch = _batch(record.value)
    if batch is None:
        return [record]
    device_id, elements = batch
    return [
        Record(
            record.topic,
            record.key,
            sample_json(device_id, element),
            _event_time_ms(element, record.timestamp_ms),
        )
        for element in elements
    ]


def _batch(value: bytes | None) -> tuple[str, list[object]] | None:
    if value is None or not is_batch(value):
        return None
    try:
        return unpack(value)
    except ContractError:
        return None


def _event_time_ms(element: object, otherwise: int) -> int:
    """A packed sample's event time (its `ts`), as its own record's timestamp was."""
    try:
        ts = datetime.fromisoformat(element["ts"])  # type: ignore[index]
        return (ts - _EPOCH) // _MS if ts.tzinfo else otherwise
    except (TypeError, KeyError, ValueError):
        return otherwise


def whole(value: bytes | None) -> bool:
    """Is `value` a JSON object? Asked of a spool row before it is packed: the spool keeps
    no word of which records were deliberately malformed, and one that is not JSON would
    make its whole batch record unreadable."""
    try:
        return type(orjson.loads(value)) is dict  # type: ignore[arg-type]
    except orjson.JSONDecodeError:
        return False
