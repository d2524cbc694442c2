"""`iiot verify` on the golden scenarios (tests/scenarios/): each replayed through a worker
and a sink of its own; the rows written are the expected ones, and a changed expected value
fails, saying which row and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from iiot.settings import Settings
from tests.invoke import iiot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SCENARIOS = sorted(p for p in (Path(__file__).parents[1] / "scenarios").iterdir() if p.is_dir())


def verify(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"IIOT_TOPIC_PREFIX": settings.topic_prefix, "COLUMNS": "160"}
    result = iiot("verify", *args, env=env)
    return result.exit_code, result.output


def test_every_golden_scenario_passes(kafka: Settings) -> None:
    assert [p.name for p in SCENARIOS] == ["hand-line", "simulated"]
    code, output = verify(kafka, *map(str, SCENARIOS))
    assert code == 0, output
    assert output.count("PASS") == len(SCENARIOS)


def test_a_changed_expected_value_fails_readably(kafka: Settings, tmp_path: Path) -> None:
    scenario = shutil.copytree(SCENARIOS[0], tmp_path / "changed")
    rows = [orjson.loads(line) for line in (scenario / "expected.jsonl").read_bytes().splitlines()]
    line = next(r for r in rows if r["table"] == "oee" and r["level"] == "line" and r["oee"])
    line["oee"] += 0.01
    (scenario / "expected.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    code, output = verify(kafka, str(scenario))
    assert code == 1, output
    assert "FAIL" in output and "1 difference(s)" in output
    assert f"line {line['entity_id']} {line['window_start']}" in output
    assert f"{line['oee']!r}" in output
