"""`iiot demo` end to end on the shared stack: a short run at high speed ends with a summary,
read from the database views, that has samples and an OEE for every enterprise; Ctrl-C stops
every part. No process of a run is left behind, and each run's schema and topics are dropped
afterwards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.demo import runs
from iiot.settings import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEVICES = 40  # six enterprises


@pytest.fixture
def demo_home(kafka: Settings, tmp_path: Path) -> Iterator[Path]:
    """Runs of this test's own (never the user's .demo/), discarded afterwards."""
    yield tmp_path
    for record in runs.earlier_runs(tmp_path, current=""):
        runs.discard(record, kafka, tmp_path)


def demo(home: Path, *options: str) -> list[str]:
    command = [sys.executable, "-m", "cli", "demo", "--devices", str(DEVICES)]
    return [*command, "--home", str(home), "--keep", "0", *options]


def processes_of(topic_prefix: str) -> list[int]:
    """Processes that still carry the run's IIOT_TOPIC_PREFIX: its parts, if any are left."""
    marker = f"IIOT_TOPIC_PREFIX={topic_prefix}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_demo_summary_has_samples_and_an_oee_for_every_enterprise(demo_home: Path) -> None:
    options = ["--speed", "120", "--duration", "30", "--json"]  # one factory hour
    done = subprocess.run(
        demo(demo_home, *options), cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["drained"], summary["timings_s"]
    assert summary["devices"] == DEVICES
    assert summary["samples"] > DEVICES * 100
    assert summary["dead_letters"] > 0  # the default faults include malformed payloads
    lines = summary["lines"]
    assert len(lines) == summary["enterprises"] == 6
    for line in lines:
        assert line["oee"] is not None and 0 < line["oee"] <= 1, line
        assert line["parts"]["planned_s"] > 0, line
        assert line["digitization_index"] is not None, line
    assert summary["province_oee"] is not None
    assert processes_of(summary["topic_prefix"]) == []


def test_ctrl_c_stops_every_part(demo_home: Path) -> None:
    process = subprocess.Popen(
        demo(demo_home, "--speed", "60", "--duration", "120", "--json"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(demo_home.glob("*/simulate.log")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.5)
    time.sleep(5)  # the parts are up and working
    (record,) = runs.records(demo_home)
    assert len(processes_of(record.topic_prefix)) >= 3  # simulator, stream worker, sink

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr
    assert processes_of(record.topic_prefix) == []
