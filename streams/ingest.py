"""Checking records from iiot.telemetry and iiot.registry before they touch any state.

Bad input never stops the pipeline: each refused record becomes a `DeadLetter` with the
reason and where it came from; each refused sample of a batch record (iiot/wire/
sample_batch.py) one with its `sample_index`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from iiot.contract import ContractError, decode, refused
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Reading
from iiot.results import DeadLetter
from iiot.wire.plain_sample import EPOCH_MS, plain_sample
from iiot.wire.sample_batch import Batch as BatchRecord
from iiot.wire.sample_batch import is_batch, sample_fields, sample_of, unpack

STAGE = "streams.ingest"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record came from, for its dead letter."""

    topic: str  # logical name, without the prefix
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None

    def refuse(self, error: ContractError, sample_index: int = 0) -> DeadLetter:
        """The record's dead letter; of its sample `sample_index` if it is a batch record
        (then `value` is that sample alone, as `sample_batch.sample_json` gives it)."""
        letter = refused(STAGE, error, self)
        return letter.model_copy(update={"sample_index": sample_index}) if sample_index else letter


def _check_key(source: Source, device_id: str) -> None:
    check_key(source.key, device_id)


def check_key(key: bytes | None, device_id: str) -> None:
    # The key decides the partition, and so which worker holds the device's state.
    if key != device_id.encode():
        shown = key.decode(errors="backslashreplace") if key else None
        raise ContractError(
            "key_mismatch", f"key {shown!r} is not the device_id {device_id!r}: key by device_id"
        )


def read_birth(source: Source) -> DeviceBirth:
    if source.value is None:
        raise ContractError("empty", "message: no value (a tombstone is not a DeviceBirth)")
    birth = decode(DeviceBirth, source.value)
    _check_key(source, birth.device_id)
    return birth


AGREEING = 3  # samples in a row that set a partition's event time when it has none, or move it
# What the guard knows of a partition: its newest event time, and the samples far from it
# that agree so far (their newest, how many).
GuardState = tuple[int | None, int | None, int]


@dataclass(slots=True)
class FutureGuard:
    """Refuses samples far ahead of the newest event time accepted in their partition.

    Measured in event time, never the wall clock, so a recording from last year replays to
    the same results. The partition's newest time (not the device's) is the reference, so a
    device returning from a long gap is not mistaken for a clock jump.

    The state moves with the partition: forgotten when it is revoked or assigned, it is
    `restored` where the stream resumes (streams/clock.py). No single sample ever sets the
    reference: a partition without one accepts samples until AGREEING of them in a row lie
    within the tolerance of each other, and a partition whose samples all jumped ahead (a
    whole shop silent over a weekend) follows them once AGREEING in a row agree; the first
    ones of the jump are refused. One skewed clock among others never gets there: a sample
    near the reference starts the count again.
    """

    tolerance_ms: int
    # (partition, offset) → the state where the stream resumes at that offset, if known
    restored: Callable[[int, int], GuardState | None] = lambda _partition, _offset: None
    newest_ms: dict[int, int] = field(default_factory=dict)  # partition → its reference
    resumed: set[int] = field(default_factory=set)  # partitions `resume`d since they moved
    ahead: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition → (top, n)

    def forget(self, partitions: Iterable[int]) -> None:
        """The partitions moved (revoked or assigned): what this worker saw is no guide."""
        for partition in partitions:
            self.newest_ms.pop(partition, None)
            self.resumed.discard(partition)
            self.ahead.pop(partition, None)

    def resume(self, partition: int, offset: int) -> None:
        """The partition's first record since it moved is at `offset`: take up its state."""
        self.resumed.add(partition)
        newest, top, agreeing = self.restored(partition, offset) or (None, None, 0)
        if newest is not None:
            self.newest_ms[partition] = newest
        if top is not None:
            self.ahead[partition] = top, agreeing

    def state(self, partition: int) -> GuardState:
        return self.newest_ms.get(partition), *self.ahead.get(partition, (None, 0))

    def check(self, partition: int, ts_ms: int) -> None:
        """Raises for a sample at `ts_ms` (its time in epoch ms) too far ahead."""
        newest = self.newest_ms.get(partition)
        if newest is not None and ts_ms <= newest + self.tolerance_ms:  # the usual case
            if ts_ms > newest:
                self.newest_ms[partition] = ts_ms
            if self.ahead:
                self.ahead.pop(partition, None)  # the partition's time is here: no jump
            return
        top, agreeing = self.ahead.get(partition, (ts_ms, 0))
        if abs(ts_ms - top) > self.tolerance_ms:
            top, agreeing = ts_ms, 0
        top, agreeing = max(top, ts_ms), agreeing + 1
        if agreeing >= AGREEING:
            del self.ahead[partition]
            self.newest_ms[partition] = top
            return
        self.ahead[partition] = top, agreeing
        if newest is not None:
            ahead_s = (ts_ms - newest) / 1000
            raise ContractError(
                "future_ts",
                f"ts: {ahead_s:.0f} s ahead of the newest event time in the partition "
                f"(limit {self.tolerance_ms / 1000:.0f} s): is the device clock right?",
            )


def read_sample(source: Source) -> Sample:
    if source.value is None:
        raise ContractError("empty", "message: no value")
    sample = decode(Sample, source.value)
    _check_key(source, sample.device_id)
    return sample


def fast_reading(key: bytes | None, value: bytes | None) -> tuple[str, Reading] | None:
    """The device and reading of a plainly valid sample keyed by its device, without pydantic
    or a `Source`; None for anything else: `read_sample` then accepts it or says why not."""
    checked = plain_sample(value, EPOCH_MS) if value is not None else None
    if checked is None or key != checked[0].encode():
        return None
    device_id, seq, ts_ms, state, total, good, cycle, _, _, _ = checked
    return device_id, Reading(ts_ms, seq, state, total, good, cycle)


def read_batch(key: bytes | None, value: bytes | None) -> BatchRecord | None:
    """The device and samples of a batch record keyed by its device; None for a record that
    is no batch (one Sample). Raises `ContractError` for a record refused whole: a bad
    envelope, or a key that is not its device."""
    if not is_batch(value):
        return None
    assert value is not None  # `is_batch` says no to None
    batch = unpack(value)
    if batch is not None:
        check_key(key, batch.device_id)
    return batch


def batched_reading(device_id: str, element: Any) -> Reading:
    """The reading of one sample of a batch record of `device_id`; `ContractError` says why
    not. Plainly valid samples skip pydantic, as `fast_reading`."""
    fields = sample_fields(device_id, element, EPOCH_MS)
    if fields is None:
        return Reading.of(sample_of(device_id, element))
    _, seq, ts_ms, state, total, good, cycle, _, _, _ = fields
    return Reading(ts_ms, seq, state, total, good, cycle)


def sample_reading(device_id: str, value: bytes) -> tuple[str, Reading]:
    """A sample of `device_id` accepted once already (held for its birth, key and all):
    its device and reading."""
    read = fast_reading(device_id.encode(), value)
    if read is None:
        sample = decode(Sample, value)
        read = sample.device_id, Reading.of(sample)
    return read
