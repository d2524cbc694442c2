"""Replaying a recording (iiot/recording.py): which records go out, changed how, and when.

Pure: no Kafka here (cli/replay.py publishes). A record goes out as recorded, bad ones too,
in file order. Only `--rebase` and `--loop` change it: its Kafka timestamp and the event
times (and, from the second pass on, the seqs) inside a telemetry value; the rest of the
value, and any value that is not JSON, keeps its bytes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from iiot.recording import Recorded, compact_json
from iiot.topics import Topic
from iiot.types import format_ts

# Between the last record of a pass and the first of the next, as between two samples.
PASS_GAP_MS = 1_000


@dataclass(frozen=True)
class Shift:
    """How one pass moves a record: its times by `ms`, a device's seqs by `seqs[device]`."""

    ms: int = 0
    seqs: Mapping[str, int] = field(default_factory=dict)

    def moves_nothing(self) -> bool:
        return self.ms == 0 and not any(self.seqs.values())


@dataclass
class Scan:
    """What a replay needs to know of a recording before it sends its first record."""

    records: int = 0
    first_ms: int | None = None  # the first timestamp in file order: what --rebase moves
    lowest_ms: int | None = None
    highest_ms: int | None = None
    topics: set[str] = field(default_factory=set)
    seqs: dict[str, tuple[int, int]] = field(default_factory=dict)  # device → lowest, highest

    def add(self, record: Recorded, *, seqs: bool) -> None:
        self.records += 1
        self.topics.add(record.topic)
        ms = record.timestamp_ms
        if ms is not None:
            self.first_ms = ms if self.first_ms is None else self.first_ms
            self.lowest_ms = ms if self.lowest_ms is None else min(self.lowest_ms, ms)
            self.highest_ms = ms if self.highest_ms is None else max(self.highest_ms, ms)
        if seqs and record.topic == Topic.TELEMETRY and record.value is not None:
            self._add_seqs(record.value)

    def _add_seqs(self, value: bytes) -> None:
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        device, samples = _samples(doc)
        for sample in samples:
            seq = sample.get("seq") if type(sample) is dict else None
            if device is not None and type(seq) is int:
                low, high = self.seqs.get(device, (seq, seq))
                self.seqs[device] = (min(low, seq), max(high, seq))

    def span_ms(self) -> int:
        """How far apart two passes are: the recording's time range and a gap. The range is
        highest − lowest, not last − first, so that a late record at the end of a pass
        cannot make the next pass overlap it."""
        if self.lowest_ms is None or self.highest_ms is None:
            return 0  # no timestamps: passes differ by their seqs alone
        return self.highest_ms - self.lowest_ms + PASS_GAP_MS


def scan(records: Iterable[Recorded], *, seqs: bool = False) -> Scan:
    """The recording's count, times and topics; with `seqs` (for --loop) each device's seqs."""
    found = Scan()
    for record in records:
        found.add(record, seqs=seqs)
    return found


class NoTimestamps(ValueError):
    """--rebase asked of a recording none of whose records has a timestamp."""


def shifts(found: Scan, loop: int = 1, rebase_ms: int | None = None) -> list[Shift]:
    """One Shift per pass: all times by rebase_ms − the first timestamp (if rebased), pass k
    by k spans more and each device's seqs by k × its seq range, so that the pipeline sees
    new samples each pass, not duplicates."""
    delta = 0
    if rebase_ms is not None:
        if found.first_ms is None:
            raise NoTimestamps("--rebase needs timestamps, and no record of it has one")
        delta = rebase_ms - found.first_ms
    span = found.span_ms()
    widths = {device: high - low + 1 for device, (low, high) in found.seqs.items()}
    return [
        Shift(delta + k * span, {device: k * width for device, width in widths.items()})
        for k in range(loop)
    ]


def passes(source: Callable[[], Iterable[Recorded]], each: Iterable[Shift]) -> Iterator[Recorded]:
    """The records of every pass in file order, each pass reading `source` afresh."""
    for shift in each:
        for record in source():
            yield moved(record, shift)


def moved(record: Recorded, shift: Shift) -> Recorded:
    """The record with its Kafka timestamp and, on telemetry, its samples' ts and seq moved."""
    if shift.moves_nothing():
        return record  # the recorded bytes, exactly
    ms = record.timestamp_ms
    value = record.value
    if record.topic == Topic.TELEMETRY and value is not None:
        value = moved_value(value, shift)
    return dataclasses.replace(
        record, timestamp_ms=None if ms is None else ms + shift.ms, value=value
    )


def moved_value(value: bytes, shift: Shift) -> bytes:
    """A Sample or batch record with its ts and seq moved; anything else as it came."""
    doc = compact_json(value)
    if type(doc) is not dict:
        # Not JSON (a bad record), or not written compactly, so not by a producer (the
        # recording kept it as `value_raw`): re-encoding would change more than its times.
        return value
    device, samples = _samples(doc)
    seq_by = shift.seqs.get(device, 0) if device is not None else 0
    changed = False
    for sample in samples:
        changed |= _move_sample(sample, shift.ms, seq_by)
    return orjson.dumps(doc) if changed else value


def _samples(doc: Any) -> tuple[str | None, list[Any]]:
    """The device and the samples of a telemetry value: a batch record's elements, or the
    Sample itself (docs/contract.md: a batch is an object with a `samples` field)."""
    if type(doc) is not dict:
        return None, []
    device = doc.get("device_id")
    device = device if type(device) is str else None
    if "samples" in doc:
        samples = doc["samples"]
        return device, samples if type(samples) is list else []
    return device, [doc]


def _move_sample(sample: Any, ms: int, seq_by: int) -> bool:
    if type(sample) is not dict:
        return False
    changed = False
    ts = sample.get("ts")
    if ms and type(ts) is str and (ts_moved := moved_time(ts, ms)) is not None:
        sample["ts"] = ts_moved
        changed = True
    seq = sample.get("seq")
    if seq_by and type(seq) is int:
        sample["seq"] = seq + seq_by
        changed = True
    return changed


def moved_time(text: str, ms: int) -> str | None:
    """`text` moved by `ms`, spelt as the wire spells times; None if it is no time with a
    zone (a bad sample stays as bad as it was recorded)."""
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            return None
        return format_ts(at + timedelta(milliseconds=ms))
    except (ValueError, OverflowError):
        return None


SKEWED_MS = 300_000  # the stream's future guard by default (Settings.future_tolerance_s)


def paced(
    records: Iterable[Recorded],
    speed: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    skewed_ms: int = SKEWED_MS,
) -> Iterator[Recorded]:
    """The records in their order, each when it is due: (its timestamp − the first one's)
    / `speed` seconds after the start. One whose time has passed, or without a timestamp,
    goes at once; never before one ahead of it. One more than `skewed_ms` ahead of the
    newest time so far (a device clock ahead, which the stream refuses) goes at once too,
    and moves nothing: waiting for it would hold every record behind it as long. `speed`
    None: no waiting."""
    if speed is None:
        yield from records
        return
    start = clock()
    first_ms: int | None = None
    newest_ms = 0
    for record in records:
        stamp = record.timestamp_ms
        if stamp is not None:
            if first_ms is None:
                first_ms = newest_ms = stamp
            if stamp <= newest_ms + skewed_ms:
                newest_ms = max(newest_ms, stamp)
                ahead = start + (stamp - first_ms) / 1000 / speed - clock()
                if ahead > 0:
                    sleep(ahead)
        yield record
