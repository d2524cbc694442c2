"""deploy/compose/postgres/init-roles.sh against a real PostgreSQL of this test's own.

In the TimescaleDB container the script runs once, on first start; here it runs against a
private cluster from deploy/local (its own port and state dir, purged afterwards), since it
changes passwords that the shared cluster's users rely on.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.private_stack import PrivateStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "deploy" / "compose" / "postgres" / "init-roles.sh"
BOOTSTRAP = REPO / "deploy" / "local" / "postgres" / "bootstrap.sql"


@pytest.fixture
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private PostgreSQL bootstrapped as deploy/local does it; yields its port."""
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up("postgres")
        yield stack.ports["PG"]
    finally:
        stack.purge()


def test_init_roles_gives_the_deployments_passwords(private_postgres: int) -> None:
    chosen = {
        "POSTGRES_PASSWORD": 'adm\'in "quoted" $HOME ;--',  # psql quotes it, no shell sees it
        "MIGRATOR_PASSWORD": secrets.token_urlsafe(12),
        "WRITER_PASSWORD": secrets.token_urlsafe(12),
        "READER_PASSWORD": secrets.token_urlsafe(12),
    }
    env = dict(
        os.environ,
        PGHOST="127.0.0.1",
        PGPORT=str(private_postgres),
        PGPASSWORD="postgres",  # the container connects over its socket; here, as the stack set
        BOOTSTRAP_SQL=str(BOOTSTRAP),
        **chosen,
    )
    run = subprocess.run(["bash", str(INIT)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr

    def login(user: str, password: str) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=private_postgres, dbname="iiot", user=user,
            password=password, connect_timeout=5, autocommit=True,
        )  # fmt: skip

    with login("iiot_migrator", chosen["MIGRATOR_PASSWORD"]) as migrator:
        owner = migrator.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'iiot'"
        ).fetchone()
        assert owner == ("iiot_migrator",)
    with login("iiot_writer", chosen["WRITER_PASSWORD"]) as writer:
        assert writer.execute("SELECT current_user").fetchone() == ("iiot_writer",)
    with login("iiot_reader", chosen["READER_PASSWORD"]) as reader:
        assert reader.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    with login("postgres", chosen["POSTGRES_PASSWORD"]) as admin:
        assert admin.execute("SELECT current_user").fetchone() == ("postgres",)
    # bootstrap.sql's development passwords no longer open anything.
    for user in ("iiot_migrator", "iiot_writer", "iiot_reader", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            login(user, user)
