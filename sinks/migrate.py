"""Versioned SQL migrations, applied once each and recorded, safe to run on every start.

The files in `sinks/migrations/` are numbered; a number with a `_timescaledb` and a `_plain`
file is the part that differs between the two paths. Which path a database takes is decided
once, by whether the server has the TimescaleDB extension, and recorded with each migration,
so a schema never mixes the two.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from iiot.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
Flavour = Literal["timescaledb", "plain"]
FLAVOURS: tuple[Flavour, ...] = ("timescaledb", "plain")


class MigrationError(RuntimeError):
    """A migration failed; the message names the file and the statement."""


@dataclass(frozen=True)
class Migration:
    version: str  # e.g. "0003_plain": the file name without .sql
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def pending_files(flavour: Flavour) -> list[Path]:
    """The migration files of one path, in order."""
    other = next(f for f in FLAVOURS if f != flavour)
    return sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if not p.stem.endswith(f"_{other}"))


_CONTINUOUS = "WITH (timescaledb.continuous, timescaledb.materialized_only = false)"


def render(text: str, flavour: Flavour, settings: Settings) -> str:
    """Fill in the @PLACEHOLDERS@: partitioning, roll-up kind, retention from settings."""
    plain = flavour == "plain"
    values = {
        "PARTITION_BY_TS": "PARTITION BY RANGE (ts)" if plain else "",
        "PARTITION_BY_WINDOW": "PARTITION BY RANGE (window_start)" if plain else "",
        "TELEMETRY_RETENTION_DAYS": str(settings.telemetry_retention_days),
        "KPI_RETENTION_DAYS": str(settings.kpi_retention_days),
        "COMPRESS_AFTER_DAYS": str(settings.compress_after_days),
        "ROLLUP_OPTIONS": "" if plain else _CONTINUOUS,
        "ROLLUP_NO_DATA": "" if plain else "WITH NO DATA",
    }
    return re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], text)


def load(flavour: Flavour, settings: Settings) -> list[Migration]:
    return [
        Migration(path.stem, render(path.read_text(), flavour, settings))
        for path in pending_files(flavour)
    ]


_TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"[^\"]*\"|(\$[A-Za-z_]*\$)|;")


def statements(text: str) -> list[str]:
    """Split SQL into statements at `;`, not inside quotes, comments or $$ bodies.

    The WASM TimescaleDB takes one plain statement at a time, and continuous aggregates may
    not be created inside a transaction block, so migrations are sent statement by statement.
    """
    found: list[str] = []
    start = 0
    pos = 0
    while (match := _TOKEN.search(text, pos)) is not None:
        pos = match.end()
        if match.group(1):  # dollar quote: skip to its closing twin
            close = text.find(match.group(1), pos)
            pos = len(text) if close < 0 else close + len(match.group(1))
        elif match.group(0) == ";":
            found.append(text[start:pos])
            start = pos
    found.append(text[start:])
    return [s.strip() for s in found if _strip_comments(s).strip()]


def _strip_comments(text: str) -> str:
    return re.sub(r"--[^\n]*", "", text)


def detect_flavour(conn: psycopg.Connection) -> Flavour:
    """TimescaleDB if it is installed or can be installed here; plain PostgreSQL otherwise."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
        return "timescaledb"
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not available:
        return "plain"
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.errors.InsufficientPrivilege:
        return "plain"  # managed services may list it without letting us create it
    return "timescaledb"


def _recorded(conn: psycopg.Connection) -> dict[str, str]:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version text PRIMARY KEY,
               flavour text NOT NULL,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    rows = conn.execute("SELECT version, flavour FROM schema_migrations").fetchall()
    return dict(rows)


def migrate(conn: psycopg.Connection, schema: str, settings: Settings) -> tuple[Flavour, list[str]]:
    """Bring `schema` up to date; returns the path taken and the versions applied now.

    `conn` must be in autocommit mode. Concurrent callers wait on an advisory lock, so two
    sinks starting together apply each migration once.
    """
    if not conn.autocommit:
        raise MigrationError("migrate needs an autocommit connection")
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema))
    )  # the extension's functions live in public
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"iiot.migrate.{schema}",))
    try:
        recorded = _recorded(conn)
        flavours = set(recorded.values())
        flavour: Flavour = flavours.pop() if flavours else detect_flavour(conn)  # type: ignore[assignment]
        applied = []
        for migration in load(flavour, settings):
            if migration.version in recorded:
                continue
            _apply(conn, migration, flavour)
            applied.append(migration.version)
        return flavour, applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"iiot.migrate.{schema}",))


def _apply(conn: psycopg.Connection, migration: Migration, flavour: Flavour) -> None:
    # Plain PostgreSQL: one transaction per file. TimescaleDB: statement by statement (its
    # files are written idempotent), since continuous aggregates refuse transaction blocks.
    transactional = flavour == "plain"
    try:
        if transactional:
            conn.execute("BEGIN")
        for statement in statements(migration.text):
            try:
                conn.execute(statement.encode(), prepare=False)
            except psycopg.Error as exc:
                first_line = _strip_comments(statement).strip().splitlines()[0]
                raise MigrationError(
                    f"{migration.version}.sql failed at `{first_line[:80]}`: "
                    + " ".join(str(exc).split())
                ) from None
        conn.execute(
            "INSERT INTO schema_migrations (version, flavour, checksum) VALUES (%s, %s, %s)",
            (migration.version, flavour, migration.checksum),
        )
        if transactional:
            conn.execute("COMMIT")
    except BaseException:
        if transactional and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise
