"""`iiot schema` and `iiot validate` know batch records (docs/contract.md, "SampleBatch")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from cli.main import app

runner = CliRunner()
DEVICE = "qd-haier-p1-l2-press03"


def batch(sample: dict[str, Any], *changes: dict[str, Any]) -> str:
    """A batch record of `sample` once per change, each changed so (seq 1, 2, …)."""
    shared = {k: v for k, v in sample.items() if k not in ("v", "device_id")}
    elements = [{**shared, "seq": n, **change} for n, change in enumerate(changes, start=1)]
    return json.dumps({"v": 1, "device_id": DEVICE, "samples": elements})


def validate(tmp_path: Path, lines: list[str], *options: str) -> Result:
    path = tmp_path / "telemetry.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return runner.invoke(app, ["validate", str(path), *options])


def test_schema_prints_the_batch_record() -> None:
    result = runner.invoke(app, ["schema", "SampleBatch"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) == {"v", "device_id", "samples"}
    assert schema["properties"]["samples"]["maxItems"] == 5_000
    element = schema["$defs"]["BatchedSample"]
    assert "device_id" not in element["properties"] and element["additionalProperties"] is False


def test_validate_takes_a_valid_batch_as_telemetry(tmp_path: Path, sample: dict[str, Any]) -> None:
    result = validate(tmp_path, [json.dumps(sample), batch(sample, {}, {}, {})])
    assert result.exit_code == 0, result.stderr
    assert "2 valid, 0 invalid Sample message(s)" in result.stdout


def test_validate_names_the_line_and_sample_of_each_bad_sample(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    lines = [
        json.dumps(sample),
        batch(sample, {}, {}),
        batch(sample, {}, {"count_good": 9999}, {}, {"state": "asleep"}),
        '{"v": 1, "device_id": "qd-haier-p1-l2-press03", "samples": []}',
    ]
    result = validate(tmp_path, lines)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3, sample 1: count_good: must not exceed count_total (5321) (got 9999)",
        "line 3, sample 3: state: Input should be 'running', 'idle', 'setup', 'down' or "
        "'planned_stop' (got 'asleep')",
        "line 4: samples: List should have at least 1 item after validation, not 0 (got [])",
    ]
    assert "2 valid, 2 invalid Sample message(s)" in result.stdout


def test_validate_a_sample_batch_takes_only_batches(tmp_path: Path, sample: dict[str, Any]) -> None:
    result = validate(
        tmp_path, [batch(sample, {}, {}), json.dumps(sample)], "--model", "SampleBatch"
    )
    assert result.exit_code == 1
    [refusal] = result.stderr.splitlines()
    assert refusal.startswith("line 2: samples: Field required; ts: Extra inputs")
    assert "1 valid, 1 invalid SampleBatch message(s)" in result.stdout
