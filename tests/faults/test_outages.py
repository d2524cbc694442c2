"""Kafka, then PostgreSQL, stopped for 60 s while the whole pipeline runs (each on a private
stack: the shared services are never stopped)."""

from __future__ import annotations

import pytest

from iiot.settings import Settings
from tests.faults.harness import Matrix, execute, judge, settings_for
from tests.faults.outcome import Snapshot
from tests.faults.pipeline import Run
from tests.integration.private_stack import PrivateStack

# A run takes minutes, the first one also the baseline's.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

OUTAGE_S = 60
AT_S = 30  # into the 120 s of publishing: input flows before, during and after


def outage(stack: PrivateStack, service: str):  # type: ignore[no-untyped-def]
    def scenario(run: Run) -> None:
        run.wait_until(AT_S)
        stack.down(service)
        run.note(f"{service} stopped")
        run.wait_until(run.elapsed() + OUTAGE_S)
        stack.up(service)
        run.note(f"{service} started")

    return scenario


def test_kafka_stopped_60s(
    baseline: Snapshot, shared: Settings, private_stack: PrivateStack, matrix: Matrix
) -> None:
    private_stack.up("kafka")
    bootstrap = private_stack.settings().kafka_bootstrap
    settings = settings_for("kafka", shared, kafka_bootstrap=bootstrap)
    run, snap = execute("kafka", settings, outage(private_stack, "kafka"))
    judge("kafka_stopped_60s", run, snap, baseline, matrix)


def test_postgres_stopped_60s(
    baseline: Snapshot, shared: Settings, private_stack: PrivateStack, matrix: Matrix
) -> None:
    private_stack.up("postgres")
    private = private_stack.settings()
    settings = settings_for(
        "postgres",
        shared,
        pg_migrator_dsn=private.pg_migrator_dsn,
        pg_writer_dsn=private.pg_writer_dsn,
        pg_reader_dsn=private.pg_reader_dsn,
    )
    run, snap = execute("postgres", settings, outage(private_stack, "postgres"))
    judge("postgres_stopped_60s", run, snap, baseline, matrix)
