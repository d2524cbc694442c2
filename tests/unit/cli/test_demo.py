"""The demo's pure parts: a run's names, when draining is done or given up, and the
summary's OEE over a run from added window parts (never an average of OEEs)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.demo import command
from cli.demo.command import Drain
from cli.demo.plan import DemoPlan, default_start, new_run_id
from cli.demo.probe import Reading
from cli.demo.summary import Parts
from iiot.settings import Settings


def plan(**settings: str) -> DemoPlan:
    now = datetime(2026, 11, 26, 14, 25, 1, tzinfo=UTC)
    return DemoPlan(
        devices=60, speed=60.0, wall_s=180.0, seed=0, faults="", start=default_start(now),
        run_id=new_run_id(now), home=Path("/tmp/demo-home"), settings=Settings(**settings),
    )  # fmt: skip


def test_a_run_has_names_of_its_own_that_the_settings_accept() -> None:
    p = plan(topic_prefix="ci.")
    assert p.run_id.startswith("20261126-142501-")
    assert p.topic_prefix == f"ci.demo-{p.run_id}."
    assert p.schema == "demo_" + p.run_id.replace("-", "_")
    checked = Settings(topic_prefix=p.topic_prefix, pg_schema=p.schema)  # patterns hold
    assert checked.pg_schema == p.run_settings().pg_schema
    env = p.child_env()
    assert env["IIOT_TOPIC_PREFIX"] == p.topic_prefix and env["IIOT_PG_SCHEMA"] == p.schema
    assert env["F_DATADIR"].startswith(str(p.run_dir))
    assert env["IIOT_STREAM_EMIT_INTERVAL_S"] == "5" or "IIOT_STREAM_EMIT_INTERVAL_S" in os.environ
    assert p.stream_group() == f"{p.topic_prefix}iiot-streams"
    assert new_run_id() != new_run_id()  # two runs in the same second still differ


def test_the_factory_starts_with_the_morning_shift_and_runs_wall_time_times_speed() -> None:
    p = plan()
    assert p.start == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 in Shandong
    assert p.factory_s == 3 * 3600
    assert p.end == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_a_run_that_would_end_ahead_of_the_clock_starts_yesterday() -> None:
    # At 00:33 UTC today's three factory hours would end at 03:00, over Kafka's limit of an
    # hour ahead: half the samples of such a demo were refused (Invalid timestamp).
    now = datetime(2026, 12, 5, 0, 33, tzinfo=UTC)
    assert default_start(now, 3 * 3600) == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert default_start(now.replace(hour=3), 3 * 3600) == datetime(2026, 12, 5, tzinfo=UTC)


def reading(newest: int, stream_lag: int = 0, sink_lag: int = 0) -> Reading:
    return Reading(published=newest, newest=newest, stream_lag=stream_lag, sink_lag=sink_lag,
                   rows={})  # fmt: skip


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(command.time, "monotonic", lambda: now[0])
    return now


def test_drained_means_nothing_behind_and_nothing_new_for_the_quiet_time(
    clock: list[float],
) -> None:
    drain = Drain(quiet_s=15)
    assert drain.verdict(reading(10)) is None
    clock[0] += 14
    assert drain.verdict(reading(10)) is None  # a timer of the worker may still emit
    clock[0] += 2
    assert drain.verdict(reading(11)) is None  # it did: the quiet time starts again
    clock[0] += 16
    assert drain.verdict(reading(11)) == "drained"


def test_draining_waits_while_anything_moves_and_gives_up_when_nothing_does(
    clock: list[float],
) -> None:
    drain = Drain(quiet_s=15)
    for lag in (900, 500, 100, 0, 86, 40):  # slow, and results emitted late: still moving
        clock[0] += command.STUCK_S - 1
        assert drain.verdict(reading(1, sink_lag=lag)) is None
    clock[0] += command.STUCK_S + 1  # nothing moved since
    assert drain.verdict(reading(1, sink_lag=40)) == "stuck"
    assert Drain(quiet_s=15).verdict(None) is None  # Kafka slow to answer: wait


def test_oee_over_a_run_adds_the_parts() -> None:
    # Two windows: 60 s planned at OEE 1, and 20 s planned making nothing (OEE 0).
    full = (1, 60.0, 60.0, 60.0, 6, 6)
    idle = (1, 20.0, 0.0, 0.0, 0, 0)
    added = Parts.of(tuple(a + b for a, b in zip(full, idle, strict=True)))
    assert added.windows == 2
    assert added.ratios().oee == pytest.approx(60 / 80)  # not (1 + 0) / 2
    assert added.ratios().availability == pytest.approx(60 / 80)
    assert Parts.of((0, 0, 0, 0, 0, 0)).ratios().oee is None  # no planned time
