"""Fixtures for tests against the real local services (`iiot stack up`).

Each run gets its own topic prefix and its own PostgreSQL schema, so runs never see each
other's data. A service that does not answer fails the test with what to do; never a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from iiot import kafka_admin
from iiot.settings import Settings
from tests.integration import own_topics, sink_support

pytestmark = pytest.mark.integration

RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(topic_prefix=f"test-{RUN_ID}.")


@pytest.fixture(scope="session")
def kafka(settings: Settings) -> Iterator[Settings]:
    """The broker answers and this run's topics exist; they are deleted afterwards."""
    try:
        kafka_admin.broker_summary(settings, timeout_s=10)
    except kafka_admin.BrokerUnreachable as exc:
        pytest.fail(f"{exc} — start it with `iiot stack up` (or run `make test`)")
    kafka_admin.ensure_topics(settings)
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)


def _connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        pytest.fail(f"PostgreSQL did not answer ({reason}) — start it with `iiot stack up`")


@pytest.fixture(scope="session")
def pg_schema(settings: Settings) -> Iterator[str]:
    """A schema of this run's own, created by the migrator and dropped afterwards."""
    schema = f"test_{RUN_ID}"
    with _connect(settings.pg_migrator_dsn) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield schema
    with _connect(settings.pg_migrator_dsn) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def migrator(settings: Settings, pg_schema: str) -> Iterator[psycopg.Connection]:
    """The schema's owner: migrations, `db maintain`, tables made by a test."""
    with _connect(settings.pg_migrator_dsn) as conn:
        conn.execute(f"SET search_path TO {pg_schema}")
        yield conn


@pytest.fixture
def writer(settings: Settings, pg_schema: str) -> Iterator[psycopg.Connection]:
    with _connect(settings.pg_writer_dsn) as conn:
        conn.execute(f"SET search_path TO {pg_schema}")
        yield conn


@pytest.fixture
def reader(settings: Settings, pg_schema: str) -> Iterator[psycopg.Connection]:
    with _connect(settings.pg_reader_dsn) as conn:
        conn.execute(f"SET search_path TO {pg_schema}")
        yield conn


@pytest.fixture
def sink_settings(
    kafka: Settings, migrator: psycopg.Connection, pg_schema: str, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Topics and a schema of this test's own: other tests of the run write to the run's."""
    yield from sink_support.own_topics_and_schema(kafka, migrator, pg_schema, request.node.name)


@pytest.fixture
def schemas(migrator: psycopg.Connection, pg_schema: str) -> Iterator[Callable[[str], str]]:
    """Fresh schemas under this run's, by name (sink_support.fresh_schemas)."""
    yield from sink_support.fresh_schemas(migrator, pg_schema)


@pytest.fixture
def stream_settings(kafka: Settings) -> Iterator[Settings]:
    """A prefix of this test's own: its own topics, consumer group and Faust state."""
    settings = kafka.model_copy(
        update={"topic_prefix": f"{kafka.topic_prefix}{uuid.uuid4().hex[:6]}."}
    )
    kafka_admin.ensure_topics(settings)
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)


@pytest.fixture
def fresh_topics(kafka: Settings) -> Iterator[Settings]:
    """A prefix of this test's own, its topics made and their partitions led before the
    test reads them whole (own_topics.py), deleted afterwards."""
    yield from own_topics.fresh_topics(kafka)
