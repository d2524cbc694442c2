"""The future guard's state per partition, kept in a changelogged table so that whoever
owns a partition next (after a rebalance or a crash) judges its samples as the last owner
did at the same offset.

A worker resumes a partition at its committed offset, and commits lag the batch writes by
a few batches: the guard's state as of the newest batch would be ahead of the records read
again, and would accept on the replay a sample it refused the first time. So each batch
appends (the partition's next offset, the guard's state there) to a short history, and the
next owner takes the state of the newest entry at or before the offset it resumes from.
"""

from __future__ import annotations

import faust
import orjson

from streams.batch import Batch
from streams.ingest import FutureGuard, GuardState

HISTORY = 32  # batch ends kept per partition: far more than the commits lag behind


class PartitionClocks:
    def __init__(self, table: faust.Table, guard: FutureGuard) -> None:
        self.table, self.guard = table, guard
        self.history: dict[int, list[list]] = {}  # partition → [[next offset, *state], …]

    def at(self, partition: int, offset: int) -> GuardState | None:
        """The guard's state for a stream resuming the partition at `offset` (None: the
        partition had no state there, or the offset is older than the history)."""
        raw = self.table.get(str(partition))
        known = [entry for entry in orjson.loads(raw) if entry[0] <= offset] if raw else []
        self.history[partition] = known  # the later entries: written again by the replay
        if not known:
            return None
        _, newest, top, agreeing = known[-1]
        return newest, top, agreeing

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.history.pop(partition, None)

    def write(self, batch: Batch) -> None:
        """The guard's state at the end of the batch, for each partition it read."""
        for partition, next_offset in batch.ends.items():
            history = self.history.setdefault(partition, [])
            history.append([next_offset, *self.guard.state(partition)])
            del history[:-HISTORY]
            batch.put(self.table, partition, str(partition), orjson.dumps(history))
