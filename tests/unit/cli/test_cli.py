"""The CLI's contract commands: schema and validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cli.main import app
from iiot.contract import MODELS
from iiot.types import METRIC_PATTERN

runner = CliRunner()


def test_schema_prints_every_model() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schemas = json.loads(result.stdout)
    assert set(schemas) == set(MODELS)
    assert schemas["Sample"]["properties"]["ts"]["format"] == "date-time"
    assert schemas["Sample"]["additionalProperties"] is False
    reason = schemas["Sample"]["properties"]["reason"]  # a snake_case code, or absent
    assert reason["anyOf"] == [{"pattern": METRIC_PATTERN, "type": "string"}, {"type": "null"}]


def test_schema_of_unknown_model_is_one_line_error() -> None:
    result = runner.invoke(app, ["schema", "Readings"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown model 'Readings'; choose one of: Sample, SampleBatch, Reading, "
        "DeviceBirth, OeeWindow, DigitizationWindow, Alarm, DeadLetter"
    ]


def test_schema_of_reading_is_a_sample_whose_seq_may_be_absent() -> None:
    result = runner.invoke(app, ["schema", "Reading"])
    assert result.exit_code == 0
    reading = json.loads(result.stdout)
    sample = MODELS["Sample"].model_json_schema()
    assert list(reading["properties"]) == list(sample["properties"])
    assert "seq" in sample["required"] and "seq" not in reading["required"]
    assert set(reading["required"]) == set(sample["required"]) - {"seq"}


def test_validate_with_model_reading_takes_a_reading_without_seq(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    unnumbered = {k: v for k, v in sample.items() if k != "seq"}
    lines = [json.dumps(sample), json.dumps(unnumbered), json.dumps(dict(unnumbered, seq=-1))]
    path = tmp_path / "readings.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", "-m", "Reading", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3: seq: Input should be greater than or equal to 0 (got -1)"
    ]
    assert "2 valid, 1 invalid Reading message(s)" in result.stdout
    as_samples = runner.invoke(app, ["validate", str(path)])
    assert as_samples.stderr.splitlines()[0] == "line 2: seq: Field required"


def test_validate_reports_each_bad_line_with_its_field(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    bad = dict(sample, count_good=9999)
    lines = [json.dumps(sample), json.dumps(bad), "", "{oops"]
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 2: count_good: must not exceed count_total (5321) (got 9999)",
        "line 4: message: Invalid JSON: key must be a string at line 1 column 2",
    ]
    assert "1 valid, 2 invalid Sample message(s)" in result.stdout


def test_validate_missing_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read") and result.stderr.count("\n") == 1


def test_validate_prints_brackets_of_the_message_literally(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    """Rich would read `[key]` and `[a-z]` as markup and drop them (cli/errors.py)."""
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(dict(sample, metrics={"Hydraulic-Bar": 1.0})) + "\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 1: metrics.Hydraulic-Bar.[key]: String should match pattern "
        "'^[a-z][a-z0-9_]{0,63}$' (got 'Hydraulic-Bar')"
    ]


def test_an_error_is_printed_literally() -> None:
    result = runner.invoke(app, ["schema", "[bold]Reading[/]"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown model '[bold]Reading[/]'; choose one of:")
