"""The WASM TimescaleDB behind a socket (deploy/local/pglite), for one test module.

Its npm packages are installed by `make install` (`npm ci` in deploy/local/pglite). It serves
one client at a time and plain statements only; psycopg in autocommit runs migrations on it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from cli.stack import REPO_ROOT
from tests.integration.private_stack import free_port

PGLITE_DIR = REPO_ROOT / "deploy" / "local" / "pglite"


@contextmanager
def pglite_timescaledb(start_timeout_s: float = 60.0) -> Iterator[str]:
    """Start the server on a free port; yields its DSN; stops it afterwards."""
    if not (PGLITE_DIR / "node_modules" / "@electric-sql" / "pglite").is_dir():
        pytest.fail(f"the WASM TimescaleDB is not installed: run `make install` ({PGLITE_DIR})")
    port = free_port()
    process = subprocess.Popen(
        ["node", "server.js", str(port)],
        cwd=PGLITE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    dsn = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                psycopg.connect(dsn, autocommit=True, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"the WASM TimescaleDB did not start: {output[-500:]}")
                time.sleep(0.3)
        yield dsn
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def become_reader(conn: psycopg.Connection, schema: str) -> None:
    """Grafana's read-only role on the WASM TimescaleDB, as deploy/local grants it, then
    this connection acts as it."""
    for statement in (
        "CREATE ROLE iiot_reader",
        f"GRANT USAGE ON SCHEMA {schema}, _timescaledb_internal TO iiot_reader",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema}, _timescaledb_internal TO iiot_reader",
        "SET ROLE iiot_reader",
    ):
        conn.execute(statement)  # type: ignore[arg-type]
