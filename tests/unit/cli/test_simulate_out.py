"""`iiot simulate --out`: the simulator's stream into a recording without a broker, the same
file for the same options (what testers replay and compare)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from iiot.contract import decode
from iiot.messages import DeviceBirth, Sample
from iiot.recording import read

runner = CliRunner()
ARGS = ["simulate", "--devices", "3", "--duration", "600", "--seed", "5"]


def simulate_to(path: Path, *more: str) -> dict:
    result = runner.invoke(
        app, [*ARGS, "--fault", "malformed=0.02", "--out", str(path), "--json", *more],
        env={"IIOT_KAFKA_BOOTSTRAP": "127.0.0.1:9"},  # never asked
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary: dict = json.loads(result.output)
    return summary


def test_the_stream_is_recorded_births_first(tmp_path: Path) -> None:
    summary = simulate_to(tmp_path / "run.jsonl.gz")
    records = list(read(tmp_path / "run.jsonl.gz"))
    assert summary["records"] == len(records)
    assert [r.topic for r in records[:3]] == ["iiot.registry"] * 3
    for r in records[:3]:
        decode(DeviceBirth, r.value or b"")
    malformed = 0
    for r in records[3:]:
        assert r.topic == "iiot.telemetry" and r.timestamp_ms is not None
        try:
            decode(Sample, r.value or b"")
        except ValueError:
            malformed += 1
    assert malformed == summary["injected"]["malformed"] > 0  # bad records recorded too


def test_the_same_options_give_the_same_file(tmp_path: Path) -> None:
    simulate_to(tmp_path / "a.jsonl")
    simulate_to(tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_out_with_workers_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, [*ARGS, "--out", str(tmp_path / "x.jsonl"), "--workers", "2"])
    assert result.exit_code == 2
    assert "leave --workers out" in result.output


def test_every_device_reports_gives_the_whole_fleet(tmp_path: Path) -> None:
    """The province's maturity leaves devices silent; the flag makes every one report."""
    devices_of = {}
    for name, more in (("maturity", ()), ("all", ("--every-device-reports",))):
        path = tmp_path / f"{name}.jsonl"
        result = runner.invoke(
            app, ["simulate", "--devices", "40", "--duration", "120", "--seed", "3",
                  "--out", str(path), "--json", *more],
            env={"IIOT_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        devices_of[name] = {r.key for r in read(path) if r.topic == "iiot.telemetry"}
    assert len(devices_of["all"]) == 40
    assert devices_of["maturity"] < devices_of["all"]
