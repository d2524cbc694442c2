"""The stream's results from a recording without Kafka (streams/offline.py): the same rows
whatever the batching (the partitions: tests/integration/test_replay_roundtrip.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from iiot.recording import Recorded, read
from iiot.settings import Settings
from streams.offline import compute

SETTINGS = Settings(topic_prefix="offline.")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> list[Recorded]:
    path = tmp_path_factory.mktemp("rec") / "run.jsonl"
    args = ["simulate", "-n", "6", "--duration", "900", "--seed", "9", "--out", str(path)]
    args += ["--fault", "malformed=0.005,duplicate=0.01,out_of_order=0.01,counter_reset=0.002"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return list(read(path))


def test_the_rows_are_the_same_however_the_records_are_batched(recording: list[Recorded]) -> None:
    rows = [list(compute(recording, SETTINGS, n).rows()) for n in (1, 97, 5000)]
    assert rows[0] == rows[1] == rows[2]
    tables = {r["table"] for r in rows[0]}
    assert tables == {"oee", "digitization", "deadletter"}
    levels = {r["level"] for r in rows[0] if r["table"] == "oee"}
    assert levels == {"device", "line", "plant", "enterprise", "city", "province"}


def test_other_topics_are_left_out(recording: list[Recorded]) -> None:
    others = [Recorded("iiot.oee", b"x", b"{}", 0), *recording[:10]]
    results = compute(others, SETTINGS)
    assert results.ignored == 1 and results.records == 10


def test_iiot_kpi_prints_the_rows(recording: list[Recorded], tmp_path: Path) -> None:
    from iiot.recording import Writer

    path = tmp_path / "r.jsonl.gz"
    with Writer(path) as writer:
        for record in recording:
            writer.write(record)
    result = CliRunner().invoke(app, ["kpi", str(path), "--json", "--level", "province"])
    assert result.exit_code == 0, result.output
    assert {line.count('"level":"province"') for line in result.output.splitlines()} == {1}
    bad = CliRunner().invoke(app, ["kpi", str(path), "--level", "plant,nope"])
    assert bad.exit_code == 2 and "unknown level nope" in bad.output
