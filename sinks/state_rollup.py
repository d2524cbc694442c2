"""The downtime roll-up `state_hourly` kept up to date (`iiot db maintain`, both paths).

Migration 0015's `refresh_state_hourly(lo, hi)` recomputes whole hours from telemetry. A run
after an hour closed refreshes the closed hours from LATE before the last run's end
(`state_hourly_mark`), so samples up to LATE late still reach their hour; runs within the
same hour do nothing (`iiot db maintain` runs every few minutes, and a refresh reads some
8 h of samples: LATE, the new hour, and 3 h either side for the intervals' neighbours). A
first run starts at the oldest sample. A day at a time, each in its own transaction with
the mark: a run stopped halfway resumes where it stopped, and one that repeats hours writes
the same rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

HOUR = timedelta(hours=1)
LATE = timedelta(hours=3)
STEP = timedelta(days=1)


def closed_hours(
    mark: datetime | None, oldest: datetime | None, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The [lo, hi) spans to refresh, a day at most each: from LATE before the mark (or the
    oldest sample) to the start of the current hour; none if no hour closed since the mark."""
    start = mark - LATE if mark is not None else oldest
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if start is None or (mark is not None and mark >= end):
        return []
    start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    spans = []
    while start < end:
        spans.append((start, min(start + STEP, end)))
        start += STEP
    return spans


def refresh(conn: psycopg.Connection, schema: str, now: datetime) -> int | None:
    """Refresh the closed hours; the rows written, or None if the schema has no roll-up."""
    exists = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'state_hourly_mark'",
        (schema,),
    ).fetchone()
    if not exists:
        return None
    mark_row = conn.execute(
        sql.SQL("SELECT refreshed_to FROM {}").format(sql.Identifier(schema, "state_hourly_mark"))
    ).fetchone()
    mark = mark_row[0] if mark_row else None
    oldest = None
    if mark is None:
        oldest_row = conn.execute(
            sql.SQL("SELECT min(ts) FROM {}").format(sql.Identifier(schema, "telemetry"))
        ).fetchone()
        oldest = oldest_row[0] if oldest_row else None
    function = sql.Identifier(schema, "refresh_state_hourly")
    written = 0
    for lo, hi in closed_hours(mark, oldest, now):
        with conn.transaction():
            row = conn.execute(sql.SQL("SELECT {}(%s, %s)").format(function), (lo, hi)).fetchone()
            written += row[0] if row else 0
    return written
