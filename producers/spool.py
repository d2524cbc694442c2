"""The disk spool: records that wait, in order, for the broker to come back.

One SQLite file in WAL mode. Rows are appended in the order they must be sent (the
autoincrement id is that order) and deleted once Kafka has them. A commit is durable
against a killed process (SIGKILL): WAL with `synchronous=NORMAL` has written the
transaction to the log file before `commit()` returns; only a power loss may take back the
last commits (use `synchronous="FULL"` against that, at some cost per commit).

One spool, one publisher: an exclusive lock on `<path>.lock` keeps a second process away,
since two writers would interleave their orders.

A spool has a cap (`max_bytes`, the pages its rows use): an append that would pass it, or that
the disk has no room for, raises `SpoolFull` and writes nothing, so what is in the spool stays
whole and in order; the caller decides about the records it could not write.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB,
    timestamp_ms INTEGER NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as the producer hands it on: broker topic name, bytes, event time."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    id: int
    record: Record


class SpoolLocked(RuntimeError):
    """Another process holds this spool."""


class SpoolFull(RuntimeError):
    """The spool is at its cap or the disk is full: the records were not written."""


log = logging.getLogger(__name__)

# Per row beyond its bytes: the row's header, id and cell pointer (about 20 bytes in SQLite).
_ROW_OVERHEAD = 24


def _disk_full(exc: sqlite3.Error) -> bool:
    """SQLite's "database or disk is full" (a write that met ENOSPC becomes this too)."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class Spool:
    """An ordered, durable queue of records in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        *,
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool {self.path} is in use by another process") from None
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute(_SCHEMA)
        (self._rows,) = self._db.execute("SELECT count(*) FROM spool").fetchone()
        (self._page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        # Rows up to this id were sent, but a full disk let them not be deleted: they count
        # as gone (not read, not in len) and are deleted by the next delete_upto().
        self._gone_upto = self._gone_rows = 0

    def __len__(self) -> int:
        """Rows waiting (kept in memory: counting a large table on every poll is slow)."""
        return self._rows

    def used_bytes(self) -> int:
        """Bytes of the pages in use (deleted rows' pages are free again, and reused)."""
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
        return (pages - free) * self._page_size

    def append(self, records: Sequence[Record]) -> None:
        """Append in order, in one transaction: all of them are durable, or none. Raises
        `SpoolFull` (nothing written) when they would pass `max_bytes` or the disk is full."""
        if not records:
            return
        if self.max_bytes is not None and self._rows:  # an empty spool takes one batch
            used, adding = self.used_bytes(), sum(map(_size, records))
            if used + adding > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.path} is full: {self._rows:,} records in {used:,} bytes, "
                    f"{len(records):,} more would pass its cap of {self.max_bytes:,} bytes "
                    "(IIOT_SPOOL_MAX_BYTES)"
                )
        try:
            with self._db:  # one transaction: commit, or roll back on error
                self._db.executemany(
                    "INSERT INTO spool (topic, key, value, timestamp_ms) VALUES (?, ?, ?, ?)",
                    [(r.topic, r.key, r.value, r.timestamp_ms) for r in records],
                )
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            raise SpoolFull(
                f"spool {self.path}: the disk is full ({exc}); {self._rows:,} records kept, "
                f"{len(records):,} not written"
            ) from None
        self._rows += len(records)

    def read(self, after_id: int = 0, limit: int = 5_000) -> list[SpooledRecord]:
        """The oldest rows with an id above `after_id`, in order."""
        rows = self._db.execute(
            "SELECT id, topic, key, value, timestamp_ms FROM spool WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (max(after_id, self._gone_upto), limit),
        ).fetchall()
        return [SpooledRecord(row[0], Record(*row[1:])) for row in rows]

    def delete(self, ids: Iterable[int]) -> None:
        """Forget rows Kafka has acknowledged."""
        params = [(i,) for i in ids]
        if not params:
            return
        with self._db:  # one transaction: commit, or roll back on error
            cursor = self._db.executemany("DELETE FROM spool WHERE id = ?", params)
        self._rows -= cursor.rowcount

    def delete_upto(self, last_id: int) -> None:
        """Forget every row up to `last_id` (a drained round), in one statement. On a full
        disk (a delete writes to the WAL too) the rows stay in the file but count as gone;
        the next call deletes them along, and a restart before it sends them again
        (duplicates, dropped downstream by (device_id, seq))."""
        last_id = max(last_id, self._gone_upto)
        try:
            with self._db:
                cursor = self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,))
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            (sent,) = self._db.execute(
                "SELECT count(*) FROM spool WHERE id > ? AND id <= ?", (self._gone_upto, last_id)
            ).fetchone()
            self._gone_upto, self._gone_rows = last_id, self._gone_rows + sent
            self._rows -= sent
            log.warning("spool %s: the disk is full, sent rows stay for now (%s)", self.path, exc)
            return
        self._rows -= cursor.rowcount - self._gone_rows
        self._gone_upto = self._gone_rows = 0

    def close(self) -> None:
        self._db.close()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)


def _size(record: Record) -> int:
    return len(record.topic) + len(record.key or b"") + len(record.value or b"") + _ROW_OVERHEAD
