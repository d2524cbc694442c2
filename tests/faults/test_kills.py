"""Processes killed mid-run (SIGKILL: no flush, no commit) and restarted."""

from __future__ import annotations

import pytest

from iiot.settings import Settings
from tests.faults.harness import Matrix, execute, judge, settings_for
from tests.faults.outcome import Snapshot
from tests.faults.pipeline import Run

# A run takes minutes, the first one also the baseline's.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


def kills(name: str, at_s: tuple[float, ...]):  # type: ignore[no-untyped-def]
    def scenario(run: Run) -> None:
        for t in at_s:
            run.wait_until(t)
            run.kill(name)
            run.start(name)

    return scenario


def test_stream_worker_killed_three_times(
    baseline: Snapshot, shared: Settings, matrix: Matrix
) -> None:
    # Early (state barely built), mid-run, and as publishing ends (windows still open).
    scenario = kills("stream", (20, 55, 110))
    run, snap = execute("streamkill", settings_for("streamkill", shared), scenario)
    judge("stream_worker_killed_3x", run, snap, baseline, matrix)


def test_sink_killed_mid_batch_twice(baseline: Snapshot, shared: Settings, matrix: Matrix) -> None:
    # Input flows all the while: each kill falls between a batch's rows and its commit.
    scenario = kills("sink", (35, 80))
    run, snap = execute("sinkkill", settings_for("sinkkill", shared), scenario)
    judge("sink_killed_2x", run, snap, baseline, matrix)


def test_partitions_move_back(baseline: Snapshot, shared: Settings, matrix: Matrix) -> None:
    """Worker A alone takes every partition; B joins and takes some; B is killed, so they come
    back to A after 30 factory minutes (more than the 5 min future tolerance); B restarts
    and takes some again."""

    def scenario(run: Run) -> None:
        run.wait_until(15)
        run.start("stream-b")
        run.wait_until(45)
        run.kill("stream-b")
        run.wait_until(80)
        run.start("stream-b")

    run, snap = execute("rebalance", settings_for("rebalance", shared), scenario)
    judge("partitions_move_back", run, snap, baseline, matrix)
