"""`iiot validate` on a recording: each record checked by its topic's model."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import BIRTH, SAMPLE

runner = CliRunner()


def test_each_record_is_checked_by_its_topics_model(tmp_path: Path) -> None:
    lines = [
        {"topic": "iiot.registry", "key": BIRTH["device_id"], "value": BIRTH},
        {"topic": "iiot.telemetry", "key": SAMPLE["device_id"], "value": SAMPLE},
        {"topic": "iiot.telemetry", "key": "x", "value": BIRTH},  # a birth is no sample
        {"topic": "iiot.registry", "key": "gone"},  # a tombstone
        {"topic": "iiot.telemetry", "key": "x", "value_raw": "{not json"},
        {"topic": "iiot.nope", "key": "x", "value": {}},
    ]
    path = tmp_path / "run.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(orjson.dumps(d) + b"\n" for d in lines) + b"{oops\n"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    out = result.output
    assert "3 valid, 4 invalid record(s) of a recording" in out
    assert "line 3: device_id" not in out and "line 3: " in out
    assert "line 5: message: Invalid JSON" in out
    assert "line 6: topic 'iiot.nope' is none of the pipeline's" in out
    assert "line 7: not a record: not JSON" in out
