"""Checking records from iiot.telemetry and iiot.registry before they touch any state.

Bad input never stops the pipeline: each refused record becomes a `DeadLetter` with the
reason and where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iiot.contract import ContractError, decode, refused
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Reading
from iiot.results import DeadLetter
from iiot.wire.plain_sample import EPOCH_MS, plain_sample

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

    def refuse(self, error: ContractError) -> DeadLetter:
        return refused(STAGE, error, self)


def _check_key(source: Source, device_id: str) -> None:
    # The key decides the partition, and so which worker holds the device's state.
    if source.key != device_id.encode():
        shown = source.key.decode(errors="backslashreplace") if source.key else None
        raise ContractError(
            "key_mismatch", f"key {shown!r} is not the device_id {device_id!r}: key by device_id"
        )


def read_birth(source: Source) -> DeviceBirth:
    if source.value is None:
        raise ContractError("empty", "message: no value (a tombstone is not a DeviceBirth)")
    birth = decode(DeviceBirth, source.value)
    _check_key(source, birth.device_id)
    return birth


@dataclass(slots=True)
class FutureGuard:
    """Refuses samples far ahead of the newest event time accepted in their partition.

    Measured in event time, never the wall clock, so a recording from last year replays to
    the same results. The partition's newest time (not the device's) is the reference, so a
    device returning from a long gap is not mistaken for a clock jump.
    """

    tolerance_ms: int
    newest_ms: dict[int, int] = field(default_factory=dict)

    def check(self, partition: int, ts_ms: int) -> None:
        """Raises for a sample at `ts_ms` (its time in epoch ms) too far ahead."""
        newest = self.newest_ms.get(partition)
        if newest is not None and ts_ms > newest + self.tolerance_ms:
            ahead_s = (ts_ms - newest) / 1000
            raise ContractError(
                "future_ts",
                f"ts: {ahead_s:.0f} s ahead of the newest event time in the partition "
                f"(limit {self.tolerance_ms / 1000:.0f} s): is the device clock right?",
            )
        self.newest_ms[partition] = max(newest or ts_ms, ts_ms)


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
    device_id, seq, ts_ms, state, total, good, cycle, _, _ = checked
    return device_id, Reading(ts_ms, seq, state, total, good, cycle)


def sample_reading(device_id: str, value: bytes) -> tuple[str, Reading]:
    """A sample of `device_id` accepted once already (held for its birth, key and all):
    its device and reading."""
    read = fast_reading(device_id.encode(), value)
    if read is None:
        sample = decode(Sample, value)
        read = sample.device_id, Reading.of(sample)
    return read
