"""`seq` for readings that come without one: per device, rising by one, never repeated.

docs/producer.md: the producer assigns `seq` and keeps it across its own restarts, since
(device_id, seq) identifies a sample downstream and a repeated seq would be dropped there as
a duplicate. The marks live in the spool's SQLite file (its lock keeps a second process
away, so one book has one writer).

The hot path writes nothing to disk while Kafka is healthy, so a seq cannot be committed
together with its record. Instead the book *reserves* seqs in blocks: before it hands out a
seq above what is reserved for the device, it commits a new reservation `block` higher. A
restarted producer starts above the reservation, so a crash (SIGKILL) may skip up to `block`
numbers per device but never repeats one. `close()` writes the exact marks back, so after a
clean stop the numbers continue without a gap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from producers.spool import SpoolFull

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seq_marks (
    device_id TEXT PRIMARY KEY,
    reserved INTEGER NOT NULL  -- every seq up to this may have been handed out
) WITHOUT ROWID
"""
_RESERVE = (
    "INSERT INTO seq_marks (device_id, reserved) VALUES (?, ?) "
    "ON CONFLICT (device_id) DO UPDATE SET reserved = excluded.reserved"
)


class SeqBook:
    """The last seq of each device, and how far ahead of it a restart must start."""

    def __init__(self, path: str | Path, block: int = 1_000) -> None:
        if block < 1:
            raise ValueError(f"block must be at least 1, not {block}")
        self.block = block
        # A connection of its own to the spool file (WAL: the spool's commits and ours do
        # not wait on each other in one thread). Committed = written to the WAL, which
        # survives a killed process, as the spool's rows do.
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.execute(_SCHEMA)
        marks = dict(self._db.execute("SELECT device_id, reserved FROM seq_marks").fetchall())
        # Start above every reservation: after a crash, any of those seqs may be in Kafka.
        self._last: dict[str, int] = marks
        self._reserved: dict[str, int] = dict(marks)

    def next(self, device_id: str) -> int:
        """The device's next seq (the first is 1), reserved on disk before it is returned."""
        seq = self._last.get(device_id, 0) + 1
        if seq > self._reserved.get(device_id, 0):
            self._reserve(device_id, seq + self.block - 1)
        self._last[device_id] = seq
        return seq

    def saw(self, device_id: str, seq: int) -> None:
        """A reading came with its own seq: seqs assigned later for the device go above it."""
        if seq > self._last.get(device_id, 0):
            if seq > self._reserved.get(device_id, 0):
                self._reserve(device_id, seq + self.block)
            self._last[device_id] = seq

    def marks(self) -> dict[str, int]:
        """Every device's mark: where a run that numbers its own samples (`iiot simulate`)
        continues, each device above it."""
        return dict(self._last)

    def reserve(self, upto: Mapping[str, int]) -> None:
        """Seqs up to these may be handed out next (by a numbering of its own, such as a
        simulation's coming batch): a block above each one not yet reserved, one commit."""
        short = [(d, seq + self.block) for d, seq in upto.items() if seq > self._reserved.get(d, 0)]
        if short:
            with self._db:
                self._db.executemany(_RESERVE, short)
            self._reserved.update(short)

    def last(self, device_id: str) -> int | None:
        """The highest seq assigned or seen for the device in this run or before, if any."""
        return self._last.get(device_id)

    def close(self) -> None:
        """Write the exact marks back (the next run continues at last + 1), and let go."""
        exact = [(d, seq) for d, seq in self._last.items() if self._reserved.get(d) != seq]
        try:
            if exact:
                with self._db:
                    self._db.executemany(_RESERVE, exact)
        except sqlite3.OperationalError as exc:  # the reservations stand: a gap, as on a crash
            if exc.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
        finally:
            self._db.close()

    def _reserve(self, device_id: str, upto: int) -> None:
        try:
            with self._db:  # committed before any seq of the block leaves this object
                self._db.execute(_RESERVE, (device_id, upto))
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            raise SpoolFull(f"no seq for {device_id}: the disk of the spool is full") from None
        self._reserved[device_id] = upto
