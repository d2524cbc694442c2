"""What a run left in the database, and how it differs from the run without the fault.

KPI windows are compared by their values — every column but `revision` and `arrived_at`
(how often a window was corrected and when it landed are no KPI; a restart may correct it
once more) — at every level and for digitization; floats within 1e-9 relative, as roll-ups
may add the same parts in another order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import psycopg
from psycopg import sql

from iiot.settings import Settings

OEE_KEY = ("level", "entity_id", "window_start")
DIGITIZATION_KEY = ("enterprise_id", "window_start")
NOT_COMPARED = {"revision", "arrived_at"}  # how often and when, not what

SampleKey = tuple[str, int, str]  # device_id, seq, ts
Source = tuple[str, int, int]  # where a refused record sat: topic, partition, offset


@dataclass
class Snapshot:
    telemetry_rows: int
    telemetry: set[SampleKey]
    telemetry_ids: int  # distinct (device_id, seq)
    windows: dict[tuple[str, ...], dict[str, Any]]  # ("oee"|"digitization", key…) → values
    deadletters: list[tuple[str, str, str | None, int | None, int | None]]  # stage, code, src


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def _windows(conn: psycopg.Connection, schema: str, table: str, key: tuple[str, ...]) -> dict:
    columns = _columns(conn, schema, table)
    query = sql.SQL("SELECT {} FROM {}.{}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Identifier(schema),
        sql.Identifier(table),
    )
    found = {}
    for row in conn.execute(query):
        values = dict(zip(columns, row, strict=True))
        ident = (table, *(str(values[k]) for k in key))
        found[ident] = {c: v for c, v in values.items() if c not in NOT_COMPARED and c not in key}
    return found


def snapshot(settings: Settings) -> Snapshot:
    schema = settings.pg_schema
    with psycopg.connect(settings.pg_writer_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        keys = {
            (d, int(s), ts.astimezone(UTC).isoformat())
            for d, s, ts in conn.execute("SELECT device_id, seq, ts FROM telemetry")
        }
        rows, ids = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM telemetry"
        ).fetchone() or (0, 0)
        windows = _windows(conn, schema, "oee", OEE_KEY)
        windows |= _windows(conn, schema, "digitization", DIGITIZATION_KEY)
        # Where the refused record sat (a letter of a refused sample in a batch record
        # also has its index there: none here, every bad record is one sample or none).
        deadletters = conn.execute(
            "SELECT stage, code, origin_topic, origin_partition, origin_offset FROM deadletter"
        ).fetchall()
    return Snapshot(int(rows), keys, int(ids), windows, [tuple(r) for r in deadletters])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def window_differences(base: Snapshot, run: Snapshot) -> dict[str, Any]:
    """Windows missing, extra or with other values, per level (and digitization), and which
    columns differed how often."""
    per_level: dict[str, Counter[str]] = {}
    columns: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}  # to show the earliest of each level

    def level_of(ident: tuple[str, ...]) -> str:
        return ident[1] if ident[0] == "oee" else "digitization"

    for ident in base.windows.keys() | run.windows.keys():
        counts = per_level.setdefault(level_of(ident), Counter())
        mine, theirs = run.windows.get(ident), base.windows.get(ident)
        if theirs is None:
            counts["extra"] += 1
            differs = ["extra"]
        elif mine is None:
            counts["missing"] += 1
            differs = ["missing"]
        else:
            changed = [c for c in theirs if not _same(theirs[c], mine.get(c))]
            counts["changed"] += bool(changed)
            columns.update(changed)
            differs = [f"{c} {theirs[c]!r} → {mine.get(c)!r}" for c in changed]
        if differs:
            example = f"{':'.join(ident)}: {', '.join(differs)}"
            examples.setdefault(level_of(ident), []).append(example)
    levels = {level: dict(c) for level, c in sorted(per_level.items()) if +c}
    return {
        "total": sum(sum(c.values()) for c in per_level.values()),
        "compared": len(base.windows),
        "compared_by_level": dict(Counter(level_of(i) for i in base.windows).most_common()),
        "by_level": levels,
        "columns": dict(columns.most_common()),
        "examples": [e for level in sorted(examples) for e in sorted(examples[level])[:2]],
    }


def deadletter_figures(
    run: Snapshot, bad: set[Source], expected_bad: int, tolerated: set[Source]
) -> dict[str, Any]:
    """Dead letters against the bad records sent: `bad` are those whose place is known (the
    campaign's), `expected_bad` counts all (the simulator's malformed ones too). Records in
    `tolerated` are valid, yet a stage may refuse them (samples of devices never announced):
    at most one row each, and not counted as bad."""
    letters = [d for d in run.deadletters if d[2:] not in tolerated]
    per_source = Counter((t, p, o) for _, _, t, p, o in letters)
    accounted = {s for s in per_source if s in bad}
    valid = Counter(d[2:] for d in run.deadletters if d[2:] in tolerated)
    valid_codes = Counter(d[1] for d in run.deadletters if d[2:] in tolerated)
    return {
        "rows": len(letters),
        "valid_records_refused": len(valid),
        "valid_records_refused_twice": sum(1 for n in valid.values() if n > 1),
        "valid_records_refused_by_code": dict(valid_codes.most_common()),
        "expected_bad_records": expected_bad,
        "bad_records_seen": len(per_source),
        "counted_more_than_once": sum(1 for n in per_source.values() if n > 1),
        "known_bad_missing": len(bad - accounted),
        "by_code": dict(Counter(code for _, code, *_ in letters).most_common()),
        "by_stage": dict(Counter(stage for stage, *_ in letters).most_common()),
        "without_reason": sum(1 for _, code, *_ in letters if not code),
    }


def compare(
    base: Snapshot,
    run: Snapshot,
    *,
    extra_ok: set[SampleKey] = frozenset(),  # type: ignore[assignment]
    bad: set[Source] = frozenset(),  # type: ignore[assignment]
    tolerated: set[Source] = frozenset(),  # type: ignore[assignment]
    expected_bad: int,
) -> dict[str, Any]:
    return {
        "landed": run.telemetry_rows,
        "lost": len(base.telemetry - run.telemetry),
        "duplicated": run.telemetry_rows - run.telemetry_ids,
        "unexpected_rows": len(run.telemetry - base.telemetry - extra_ok),
        "unexpected_examples": sorted(run.telemetry - base.telemetry - extra_ok)[:5],
        "expected_extra_missing": len(extra_ok - run.telemetry),
        "dead_letters": deadletter_figures(run, bad, expected_bad, tolerated),
        "windows_differ": window_differences(base, run),
    }


def problems(figures: dict[str, Any]) -> list[str]:
    """What keeps a scenario from passing, in words (empty: it passes)."""
    found = [f"crashed: {c}" for c in figures.get("crashes", [])]
    if not figures.get("drained"):
        found.append("the stream worker or the sink never caught up")
    for name in ("lost", "duplicated", "unexpected_rows", "expected_extra_missing"):
        if figures[name]:
            found.append(f"{name}: {figures[name]}")
    dl = figures["dead_letters"]
    if dl["bad_records_seen"] != dl["expected_bad_records"]:
        found.append(
            f"dead letters name {dl['bad_records_seen']} records, "
            f"{dl['expected_bad_records']} bad ones were sent"
        )
    if dl["rows"] != dl["expected_bad_records"]:
        found.append(f"{dl['rows']} dead-letter rows for {dl['expected_bad_records']} bad records")
    for name in (
        "counted_more_than_once",
        "known_bad_missing",
        "without_reason",
        "valid_records_refused_twice",
    ):
        if dl[name]:
            found.append(f"dead letters {name}: {dl[name]}")
    windows = figures["windows_differ"]
    if windows["total"]:
        found.append(
            f"windows differ: {windows['by_level']} (columns {windows['columns']}); "
            f"for example {windows['examples']}"
        )
    return found
