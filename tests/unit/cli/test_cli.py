"""The CLI's contract commands: schema and validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cli.main import app
from iiot.contract import MODELS

runner = CliRunner()


def test_schema_prints_every_model() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schemas = json.loads(result.stdout)
    assert set(schemas) == set(MODELS)
    assert schemas["Sample"]["properties"]["ts"]["format"] == "date-time"
    assert schemas["Sample"]["additionalProperties"] is False


def test_schema_of_unknown_model_is_one_line_error() -> None:
    result = runner.invoke(app, ["schema", "Reading"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown model 'Reading'; choose one of: Sample, SampleBatch, DeviceBirth, "
        "OeeWindow, DigitizationWindow, Alarm, DeadLetter"
    ]


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
