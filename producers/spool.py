"""The disk spool: records that wait, in order, for the broker to come back.

One SQLite file in WAL mode. Rows are appended in the order they must be sent (the
autoincrement id is that order) and deleted once Kafka has them. A commit is durable
against a killed process (SIGKILL): WAL with `synchronous=NORMAL` has written the
transaction to the log file before `commit()` returns; only a power loss may take back the
last commits (use `synchronous="FULL"` against that, at some cost per commit).

One spool, one publisher: an exclusive lock on `<path>.lock` keeps a second process away,
since two writers would interleave their orders.
"""

from __future__ import annotations

import fcntl
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


class Spool:
    """An ordered, durable queue of records in one SQLite file."""

    def __init__(self, path: str | Path, synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        self.path = Path(path)
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

    def __len__(self) -> int:
        """Rows waiting (kept in memory: counting a large table on every poll is slow)."""
        return self._rows

    def append(self, records: Sequence[Record]) -> None:
        """Append in order, in one transaction: all of them are durable, or none."""
        if not records:
            return
        with self._db:  # one transaction: commit, or roll back on error
            self._db.executemany(
                "INSERT INTO spool (topic, key, value, timestamp_ms) VALUES (?, ?, ?, ?)",
                [(r.topic, r.key, r.value, r.timestamp_ms) for r in records],
            )
        self._rows += len(records)

    def read(self, after_id: int = 0, limit: int = 5_000) -> list[SpooledRecord]:
        """The oldest rows with an id above `after_id`, in order."""
        rows = self._db.execute(
            "SELECT id, topic, key, value, timestamp_ms FROM spool WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (after_id, limit),
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
        """Forget every row up to `last_id` (a drained round), in one statement."""
        with self._db:
            cursor = self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,))
        self._rows -= cursor.rowcount

    def close(self) -> None:
        self._db.close()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
