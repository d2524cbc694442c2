"""Plain-PostgreSQL upkeep: partitions ahead, retention, roll-up refresh (`iiot db maintain`).

On TimescaleDB the extension's own jobs do all of this, and these functions do nothing but
refresh the downtime roll-up, which is no continuous aggregate (sinks/state_rollup.py).
A partition is named `<parent>_p<YYYYMMDD of its lower bound>`; bounds are aligned to the
span from 2000-01-01 UTC, as the roll-ups' buckets are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from sinks import state_rollup

log = logging.getLogger("iiot.sink")

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# What PostgreSQL answers for a partition it will not make: a bound out of its range, a
# range overlapping a partition made by hand. Anything else (a lost connection) is raised.
UNMAKEABLE = (OverflowError, psycopg.errors.DataError, psycopg.errors.InvalidObjectDefinition)
ROLLUPS = ("metric_hourly", "metric_daily", "oee_hourly", "oee_daily")


@dataclass(frozen=True)
class Policy:
    parent: str
    span: timedelta
    retention: timedelta

    def lower_bound(self, ts: datetime) -> datetime:
        return EPOCH + (ts - EPOCH) // self.span * self.span

    def lower_bound_or_none(self, ts: datetime) -> datetime | None:
        """The bound of the partition holding `ts`, or None if it has none: a partition
        near year 1 or 9999 would reach past what a datetime can hold."""
        try:
            lower = self.lower_bound(ts)
            lower + self.span  # its upper bound must exist too
        except OverflowError:
            return None
        return lower

    def partition_name(self, lower: datetime) -> str:
        return f"{self.parent}_p{lower:%Y%m%d}"


def policies(conn: psycopg.Connection, schema: str) -> list[Policy]:
    """The partitioned tables of a plain schema; empty on TimescaleDB."""
    exists = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'partition_policy'",
        (schema,),
    ).fetchone()
    if not exists:
        return []
    rows = conn.execute(
        sql.SQL("SELECT parent, span, retention FROM {}.partition_policy ORDER BY parent").format(
            sql.Identifier(schema)
        )
    ).fetchall()
    return [Policy(*row) for row in rows]


class PartitionKeeper:
    """Creates the partitions a batch needs before it is written, remembering what exists.

    The sink owns no table, so it asks the schema's `ensure_partition` (migration 0010), which
    runs with the migrator's rights and makes only the partition the policy gives a time.
    """

    def __init__(self, schema: str, policies: Iterable[Policy]) -> None:
        self.schema = schema
        self.policies = {p.parent: p for p in policies}
        self._known: set[str] = set()

    def ensure(self, conn: psycopg.Connection, parent: str, times: Iterable[datetime]) -> None:
        """Make the partitions of these times. One that cannot be made (a bound past year
        9999, a range PostgreSQL refuses) is left out: its rows find no partition, and the
        writer dead-letters them alone. A lost database still raises, to be retried."""
        policy = self.policies.get(parent)
        if policy is None:
            return
        for lower in sorted(filter(None, {policy.lower_bound_or_none(ts) for ts in times})):
            name = policy.partition_name(lower)
            if name in self._known:
                continue
            try:
                request_partition(conn, self.schema, policy, lower)
            except UNMAKEABLE as exc:
                log.warning("no partition %s: %s", name, " ".join(str(exc).split()))
                continue
            self._known.add(name)


def request_partition(
    conn: psycopg.Connection, schema: str, policy: Policy, lower: datetime
) -> None:
    """The partition holding `lower`, through the owner's function: any role with EXECUTE."""
    function = sql.Identifier(schema, "ensure_partition")
    conn.execute(sql.SQL("SELECT {}(%s, %s)").format(function), (policy.parent, lower))


def create_partition(
    conn: psycopg.Connection, schema: str, policy: Policy, lower: datetime
) -> None:
    """CREATE … PARTITION OF, tolerating a twin sink that made it a moment earlier."""
    statement = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {part} PARTITION OF {parent} FOR VALUES FROM ({lo}) TO ({hi})"
    ).format(
        part=sql.Identifier(schema, policy.partition_name(lower)),
        parent=sql.Identifier(schema, policy.parent),
        lo=sql.Literal(lower),
        hi=sql.Literal(lower + policy.span),
    )
    try:
        with conn.transaction():
            conn.execute(statement)
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        pass  # created concurrently: what we wanted


def partitions_of(conn: psycopg.Connection, schema: str, parent: str) -> list[str]:
    rows = conn.execute(
        """SELECT c.relname FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent
           JOIN pg_namespace n ON n.oid = p.relnamespace
           WHERE n.nspname = %s AND p.relname = %s ORDER BY c.relname""",
        (schema, parent),
    ).fetchall()
    return [r[0] for r in rows]


@dataclass
class MaintenanceReport:
    created: list[str]
    dropped: list[str]
    refreshed: list[str]


def maintain(
    conn: psycopg.Connection, schema: str, *, now: datetime | None = None, days_ahead: int = 3
) -> MaintenanceReport:
    """Partitions for today and `days_ahead` more, retention, roll-ups refreshed (plain only);
    the downtime roll-up's closed hours on both paths."""
    now = now or datetime.now(UTC)
    report = MaintenanceReport([], [], [])
    plain = policies(conn, schema)
    for policy in plain:
        existing = set(partitions_of(conn, schema, policy.parent))
        lower = policy.lower_bound(now)
        while lower <= now + timedelta(days=days_ahead):
            if policy.partition_name(lower) not in existing:
                create_partition(conn, schema, policy, lower)
                report.created.append(policy.partition_name(lower))
            lower += policy.span
        report.dropped += _drop_expired(conn, schema, policy, now)
    if plain:
        for rollup in ROLLUPS:
            # CONCURRENTLY keeps dashboards reading while it runs (needs the unique index).
            with conn.transaction():
                conn.execute(
                    sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(
                        sql.Identifier(schema, rollup)
                    )
                )
            report.refreshed.append(rollup)
    if state_rollup.refresh(conn, schema, now) is not None:  # both paths
        report.refreshed.append("state_hourly")
    return report


def _drop_expired(
    conn: psycopg.Connection, schema: str, policy: Policy, now: datetime
) -> list[str]:
    dropped = []
    for name in partitions_of(conn, schema, policy.parent):
        try:
            lower = datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
        except (IndexError, ValueError):
            continue  # not one of ours: leave it alone
        if lower + policy.span <= now - policy.retention:
            with conn.transaction():
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
            dropped.append(name)
    return dropped
