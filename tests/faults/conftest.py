"""The fault matrix's fixtures: the shared services answering, the fault-free baseline (one
run per session, shared by every scenario), the summary, and private stacks for outages.

Runs use the local services `iiot stack up` starts; a scenario that stops Kafka or
PostgreSQL starts a private one (tests/integration/private_stack.py). A service that does
not answer fails the session, never skips it.
"""

from __future__ import annotations

import pytest

from iiot import kafka_admin
from iiot.settings import Settings
from tests.faults import outcome
from tests.faults.harness import Matrix, execute, expected_bad, figures_of, settings_for
from tests.faults.outcome import Snapshot


@pytest.fixture(scope="session")
def shared() -> Settings:
    """The shared services answer (never stopped here)."""
    settings = Settings()
    try:
        kafka_admin.broker_summary(settings, timeout_s=10)
    except kafka_admin.BrokerUnreachable as exc:
        pytest.fail(f"{exc} — start it with `iiot stack up`")
    return settings


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    return Matrix()


@pytest.fixture(scope="session")
def baseline(shared: Settings, matrix: Matrix) -> Snapshot:
    """The good stream, run once without a fault on the shared services."""
    run, snap = execute("baseline", settings_for("baseline", shared), None)
    compared = outcome.compare(snap, snap, expected_bad=expected_bad(run))
    figures = figures_of(run, compared)
    figures["problems"] = outcome.problems(figures)
    matrix.add("baseline", figures)
    assert not run.crashes and run.drained, figures
    assert snap.telemetry_rows > 0 and snap.windows, figures
    return snap
