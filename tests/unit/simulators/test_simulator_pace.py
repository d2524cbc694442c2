"""Pacing the stream against wall time, and the `iiot registry export` command."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli.main import app
from iiot.messages import DeviceBirth
from iiot.topics import Topic
from simulators import Emitted, pace


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def events(*due_ms: int, event_ms: int | None = None) -> list[Emitted]:
    return [
        Emitted(Topic.TELEMETRY, b"d", b"{}", event_ms if event_ms is not None else t, True, t)
        for t in due_ms
    ]


def test_speed_runs_simulated_time_that_many_times_faster() -> None:
    clock = FakeClock()
    out = list(pace(events(0, 1_000, 3_000, 4_000), 2.0, clock=clock, sleep=clock.sleep))
    assert len(out) == 4
    assert sum(clock.slept) == 2.0  # 4 simulated seconds at 2×


def test_pacing_follows_delivery_time_not_event_time() -> None:
    """A late record (old event time) or a skewed one (future event time) does not stall."""
    clock = FakeClock()
    list(pace(events(0, 1_000, event_ms=10**9), 1.0, clock=clock, sleep=clock.sleep))
    assert sum(clock.slept) == 1.0


def test_no_speed_means_as_fast_as_possible() -> None:
    clock = FakeClock()
    assert len(list(pace(events(0, 60_000), None, clock=clock, sleep=clock.sleep))) == 2
    assert clock.slept == []


runner = CliRunner()


def test_registry_export_writes_json_and_yaml(tmp_path: Path) -> None:
    result = runner.invoke(app, ["registry", "export", "--devices", "12", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["births"]) == doc["devices"] == 12
    enterprises = {e["id"]: e for e in doc["enterprises"]}  # given once, births name them
    DeviceBirth.model_validate(
        {**doc["births"][0], "enterprise": enterprises[doc["births"][0]["enterprise"]]}
    )

    out = tmp_path / "registry.yaml"
    result = runner.invoke(app, ["registry", "export", "-n", "5", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0
    assert len(yaml.safe_load(out.read_text(encoding="utf-8"))["births"]) == 5


def test_registry_export_refuses_an_unknown_format_in_one_line() -> None:
    result = runner.invoke(app, ["registry", "export", "--format", "xml"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --format must be yaml or json, not 'xml'"
