"""Samples waiting for their device's birth, held compact and bounded.

At start-up the telemetry partitions may be read before the registry, so a sample of a
device without a birth is held (in a changelogged table) and applied when the birth comes.
What is held of a sample is its OEE reading (`list(reading)`, all the stream needs once the
sample was validated) and where it came from, for a dead letter: its offset, or
[offset, sample index] for a sample of a batch record after its first: a device's table value is
rewritten whole, so it must stay small. Each sample past a bound is one dead letter
`unknown_device`:
- MAX_HELD_PER_DEVICE samples of one device, MAX_HELD_PER_PARTITION of one partition;
- HELD_FOR_MS of the partition's event time after the sample's own;
- HELD_ROW_MAX_BYTES a held sample (numbers beyond what a PLC gives), so a device's value
  stays under ~260 KB, well under Kafka's 1 MB record limit, whatever the input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import faust
import orjson

from iiot.oee import Reading
from streams.batch import Batch
from streams.ingest import sample_reading

MAX_HELD_PER_DEVICE = 1_000
MAX_HELD_PER_PARTITION = 10_000
HELD_ROW_MAX_BYTES = 256
HELD_FOR_MS = 30 * 60_000  # of event time: past any start-up race between the two topics


# Where a held sample came from: its record's offset, or (offset, index) if it is the
# sample `index` > 0 of a batch record; None: held before offsets were kept.
Where = int | tuple[int, int] | None


def where_of(where: Where) -> tuple[int | None, int]:
    """(offset, sample index) of a held sample."""
    return where if isinstance(where, tuple) else (where, 0)


@dataclass(slots=True)
class Held:
    """One device's held samples, in arrival order: (where, reading)."""

    partition: int
    rows: list[tuple[Where, Reading]]

    def dumps(self) -> bytes:
        return orjson.dumps([self.partition, *([offset, *r] for offset, r in self.rows)])

    @classmethod
    def loads(cls, raw: bytes, device_id: str, partition: int) -> Held:
        first, *rows = orjson.loads(raw) or [partition]
        if isinstance(first, str):  # the value before this form: the samples' JSON text
            samples = [sample_reading(device_id, text.encode())[1] for text in [first, *rows]]
            return cls(partition, [(None, reading) for reading in samples])
        return cls(first, [(_where(row[0]), Reading(*row[1:])) for row in rows])


class HeldSamples:
    """The held-samples table with decoded copies and a count per partition. The table
    stays the truth: `rebuild` after every recovery."""

    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.copies: dict[str, Held] = {}
        self.of_partition: defaultdict[int, set[str]] = defaultdict(set)
        self.counts: defaultdict[int, int] = defaultdict(int)

    def rebuild(self) -> None:
        self.copies.clear()
        self.of_partition.clear()
        self.counts.clear()
        restored = getattr(self.table.data, "_key_partition", {})  # Faust's memory store
        for device_id, raw in self.table.items():
            held = self.copies[device_id] = Held.loads(raw, device_id, restored.get(device_id, 0))
            self.of_partition[held.partition].add(device_id)
            self.counts[held.partition] += len(held.rows)

    def hold(
        self, batch: Batch, device_id: str, partition: int, offset: int, r: Reading, index: int = 0
    ) -> str:
        """Holds the sample (of index `index` in a batch record), or says why not ("" if
        held)."""
        held = self.copies.get(device_id)
        if held is not None and len(held.rows) >= MAX_HELD_PER_DEVICE:
            return f"{MAX_HELD_PER_DEVICE} samples of it held already"
        if self.counts[partition] >= MAX_HELD_PER_PARTITION:
            return f"{MAX_HELD_PER_PARTITION} samples of unknown devices held in its partition"
        where: Where = (offset, index) if index else offset
        try:
            size = len(orjson.dumps([where, *r]))
        except TypeError:  # orjson: an integer beyond 64 bits
            size = HELD_ROW_MAX_BYTES + 1
        if size > HELD_ROW_MAX_BYTES:
            return f"its numbers are too large to hold ({size} B > {HELD_ROW_MAX_BYTES} B)"
        if held is None:
            held = self.copies[device_id] = Held(partition, [])
            self.of_partition[partition].add(device_id)
        held.rows.append((where, r))
        self.counts[partition] += 1
        batch.held[device_id] = partition  # written once per batch, like the state
        return ""

    def release(self, batch: Batch, device_id: str) -> Held | None:
        """The device's held samples, out of the table (its birth came)."""
        held = self.copies.pop(device_id, None)
        batch.held.pop(device_id, None)
        if held is not None:
            self.of_partition[held.partition].discard(device_id)
            self.counts[held.partition] -= len(held.rows)
        if device_id in self.table:
            batch.drop(self.table, held.partition if held else 0, device_id)
        return held

    def expire(
        self, batch: Batch, partition: int, now_ms: int
    ) -> Iterator[tuple[str, Where, Reading]]:
        """Takes out (device, where, reading) of the partition's samples held too long."""
        horizon = now_ms - HELD_FOR_MS
        for device_id in list(self.of_partition.get(partition, ())):
            held = self.copies[device_id]
            old = [row for row in held.rows if row[1].ts_ms < horizon]
            if not old:
                continue
            held.rows = [row for row in held.rows if row[1].ts_ms >= horizon]
            self.counts[partition] -= len(old)
            if held.rows:
                batch.held[device_id] = partition
            else:
                self.release(batch, device_id)
            for where, reading in old:
                yield device_id, where, reading

    def write(self, batch: Batch) -> None:
        for device_id, partition in batch.held.items():
            batch.put(self.table, partition, device_id, self.copies[device_id].dumps())


def _where(raw: int | list[int] | None) -> Where:
    return (raw[0], raw[1]) if isinstance(raw, list) else raw
