"""Writing a checkpoint's rows: binary COPY into staging, then `INSERT … ON CONFLICT`.

All targets of one checkpoint go in one transaction, so the offsets committed after it
cover exactly what the database holds. A row the database refuses (bad bytes, a broken
constraint) is found by halving its batch under savepoints and handed back to be
dead-lettered; the rest of the batch lands. Lost connections are the caller's to retry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.adapt import PyFormat

from sinks.partitions import PartitionKeeper
from sinks.tables import TARGETS, Origin, Row, Target

# Errors that belong to a row, not to the database being away: what PostgreSQL refuses of
# it, and anything raised on our side while sending it (an int8 dumper's OverflowError for a
# seq of 2^63, a bug met by one strange value). Every other psycopg error is the database's
# (a lost connection, a missing table): the caller retries those, nothing is dead-lettered.
DATABASE_REFUSES = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


def row_fault(exc: Exception) -> bool:
    return isinstance(exc, DATABASE_REFUSES) or not isinstance(exc, psycopg.Error)


@dataclass
class Batch:
    """Rows per target, each with the message it came from."""

    rows: dict[Target, list[Row]] = field(default_factory=lambda: defaultdict(list))
    origins: dict[Target, list[Origin]] = field(default_factory=lambda: defaultdict(list))

    def add(self, target: Target, row: Row, origin: Origin) -> None:
        self.rows[target].append(row)
        self.origins[target].append(origin)

    def extend(self, other: Batch) -> None:
        for target, rows in other.rows.items():
            self.rows[target].extend(rows)
            self.origins[target].extend(other.origins[target])

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass(frozen=True)
class Rejected:
    origin: Origin
    table: str
    reason: str


def upsert_sql(schema: str, target: Target, stage: str) -> sql.Composed:
    """INSERT from the staging table, keeping one row per key as the conflict rule says."""
    cols = sql.SQL(", ").join(map(sql.Identifier, target.names))
    key = sql.SQL(", ").join(map(sql.Identifier, target.key))
    table = sql.Identifier(schema, target.table)
    if target.conflict == "keep_first":
        # DO NOTHING tolerates a key twice in one statement: no de-duplication pass needed.
        return sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({key}) DO NOTHING"
        ).format(table=table, cols=cols, stage=sql.Identifier(stage), key=key)
    winner = "revision" if target.conflict == "higher_revision" else "announced_at"
    updates = sql.SQL(", ").join(
        [
            *(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
              for n in target.names if n not in target.key),
            sql.SQL("arrived_at = DEFAULT"),  # now() (migration 0007): the winner arrived now
        ]
    )  # fmt: skip
    # DO UPDATE may touch a row once per statement: keep the winner of each key first.
    return sql.SQL(
        "INSERT INTO {table} AS t ({cols}) "
        "SELECT DISTINCT ON ({key}) {cols} FROM {stage} ORDER BY {key}, {win} DESC, ord DESC "
        "ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE t.{win} < EXCLUDED.{win}"
    ).format(
        table=table,
        cols=cols,
        stage=sql.Identifier(stage),
        key=key,
        win=sql.Identifier(winner),
        updates=updates,
    )


class TableWriter:
    """Writes batches into one schema over one connection (autocommit, transactions explicit)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        schema: str,
        keeper: PartitionKeeper,
        *,
        direct_first: bool = True,
    ) -> None:
        self.conn = conn
        self.schema = schema
        self.keeper = keeper
        self.direct_first = direct_first
        # psycopg's DB-API module maps bytea's oid, which COPY's jsonb bytes use, to a
        # pure-Python dumper; put the C one back (a Python call less per row).
        conn.adapters.register_dumper(None, conn.adapters.get_dumper(bytes, PyFormat.BINARY))
        self._upserts = {t.table: upsert_sql(schema, t, f"stage_{t.table}") for t in TARGETS}
        for target in TARGETS:  # outside any transaction, so a rollback cannot take them
            self._create_stage(target)

    def write(self, batch: Batch) -> list[Rejected]:
        """Write every row in one transaction; returns the rows the database refused."""
        self._ensure_partitions(batch)
        try:
            with self.conn.transaction():
                for target in TARGETS:
                    if batch.rows.get(target):
                        self._land(target, batch.rows[target])
            return []
        except Exception as exc:
            if not row_fault(exc):
                raise
            # A poison row somewhere: find it, keep the rest. Only here, after a failure,
            # does a batch pay for the search.
        rejected: list[Rejected] = []
        with self.conn.transaction():
            for target in TARGETS:
                if batch.rows.get(target):
                    rejected += self._isolate(target, batch.rows[target], batch.origins[target])
        return rejected

    def _land(self, target: Target, rows: Sequence[Row]) -> None:
        """Insert-only rows (telemetry) try a COPY straight into the table first.

        In steady state no key is there yet, and COPY's multi-row inserts cost half of
        INSERT … SELECT … ON CONFLICT. If any key exists (a replay, a redelivery after a
        crash) or repeats within the batch, the savepoint is rolled back and the batch takes
        the staging path, whose ON CONFLICT drops the duplicates.
        """
        if self.direct_first and target.conflict == "keep_first":
            try:
                with self.conn.transaction():
                    self._copy(target, target.table, rows, self.schema)
                return
            except psycopg.errors.UniqueViolation:
                pass
        self._copy_upsert(target, rows)

    def _ensure_partitions(self, batch: Batch) -> None:
        if not self.keeper.policies:  # TimescaleDB makes its chunks itself
            return
        for target, rows in batch.rows.items():
            index = target.time_index()
            if index is not None and rows:
                self.keeper.ensure(self.conn, target.table, {row[index] for row in rows})

    def _create_stage(self, target: Target) -> None:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in target.columns
        )
        self.conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} (ord serial, {}) ON COMMIT DELETE ROWS"
            ).format(sql.Identifier(f"stage_{target.table}"), columns)
        )

    def _copy(
        self, target: Target, table: str, rows: Sequence[Row], schema: str | None = None
    ) -> None:
        """Binary COPY of the rows into a table (the target itself, or its staging table)."""
        names = sql.SQL(", ").join(map(sql.Identifier, target.names))
        where = sql.Identifier(schema, table) if schema else sql.Identifier(table)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(where, names)
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            copy.set_types(target.wire_types)
            for row in rows:
                copy.write_row(row)

    def _copy_upsert(self, target: Target, rows: Sequence[Row]) -> None:
        stage = f"stage_{target.table}"
        self._copy(target, stage, rows)
        with self.conn.cursor() as cur:
            cur.execute(self._upserts[target.table])
            cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(stage)))

    def _isolate(
        self, target: Target, rows: Sequence[Row], origins: Sequence[Origin]
    ) -> list[Rejected]:
        """Write under a savepoint; on a row error split in halves until the culprit is alone."""
        try:
            with self.conn.transaction():
                self._copy_upsert(target, rows)
            return []
        except Exception as exc:
            if not row_fault(exc):
                raise
            if len(rows) == 1:
                said = str(exc) if isinstance(exc, psycopg.Error) else f"{exc!r}"
                return [Rejected(origins[0], target.table, " ".join(said.split())[:1_000])]
        half = len(rows) // 2
        return self._isolate(target, rows[:half], origins[:half]) + self._isolate(
            target, rows[half:], origins[half:]
        )
