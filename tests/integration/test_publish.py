"""`iiot publish` against the real broker: JSON Lines from a file or a pipe go through the
Publisher — readings numbered per device in order, bad lines said in one line, counted and
dead-lettered, births published — and a pipe's lines go out as they come, not at its end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from iiot import topics
from iiot.contract import decode
from iiot.messages import DeviceBirth, Sample
from iiot.results import DeadLetter
from iiot.settings import Settings
from tests.integration.sample_maker import reading
from tests.integration.telemetry_reader import one_sample_records, read_topic
from tests.invoke import iiot

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEVICES = 2


def line(index: int, **changes: object) -> str:
    return orjson.dumps({**reading(index, DEVICES), **changes}).decode()


def samples(settings: Settings, expected: int) -> list[Sample]:
    topic = topics.name(topics.Topic.TELEMETRY, settings)
    return [
        decode(Sample, r.value) for r in one_sample_records(read_topic(settings, topic, expected))
    ]


def letters(settings: Settings, expected: int) -> list[DeadLetter]:
    topic = topics.name(topics.Topic.DEADLETTER, settings)
    return [decode(DeadLetter, m.value()) for m in read_topic(settings, topic, expected)]


def seqs(arrived: list[Sample]) -> dict[str, list[int]]:
    by_device: dict[str, list[int]] = {}
    for s in arrived:
        by_device.setdefault(s.device_id, []).append(s.seq)
    return by_device


def publish(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    spool = str(tmp_path / "spool.sqlite")
    done = iiot(
        "publish", "--spool", spool, *args, env={"IIOT_TOPIC_PREFIX": settings.topic_prefix}
    )
    return done.exit_code, done.stderr.splitlines()


def test_a_file_of_readings_numbered_in_order_bad_lines_said_and_dead_lettered(
    fresh_topics: Settings, tmp_path: Path
) -> None:
    lines = [line(i) for i in range(6)]  # two devices, three readings each, no seq
    lines[2:2] = [line(6, count_good=10, count_total=3)]  # line 3: refused, takes no seq
    lines[4:4] = ["{oops", ""]  # line 5: not JSON; line 6: blank, skipped
    lines += [line(6, seq=40), line(8)]  # device 0: its own seq kept, the next above it
    path = tmp_path / "readings.jsonl"
    path.write_text("\n".join(lines) + "\n")

    code, stderr = publish(fresh_topics, tmp_path, str(path))
    assert code == 1  # some line was not published
    assert stderr == [
        "line 3: count_good: must not exceed count_total (3) (got 10)",
        "line 5: message: Invalid JSON: key must be a string at line 1 column 2",
        "published 8, refused 0, invalid 2, spooled 0",
    ]
    arrived = samples(fresh_topics, 8)
    assert seqs(arrived) == {
        "zb-components-p1-l0-smt000": [1, 2, 3, 40, 41],
        "zb-components-p1-l1-smt001": [1, 2, 3],
    }
    bad = sorted(letters(fresh_topics, 2), key=lambda d: d.code)  # two partitions: any order
    assert [(d.stage, d.code, d.key, d.payload) for d in bad] == [
        ("producer", "invalid_field", "zb-components-p1-l0-smt000", lines[2]),
        ("producer", "invalid_json", None, "{oops"),
    ]

    again, stderr = publish(fresh_topics, tmp_path, str(path.with_name("none.jsonl")))
    assert again == 2 and stderr[0].startswith("error: cannot read")


def test_model_sample_wants_a_seq_and_model_device_birth_publishes_births(
    fresh_topics: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(f"{line(0)}\n{line(1, seq=7)}\n")
    code, stderr = publish(fresh_topics, tmp_path, "-m", "Sample", str(path))
    assert (code, stderr) == (
        1,
        ["line 1: seq: Field required", "published 1, refused 0, invalid 1, spooled 0"],
    )
    assert [s.seq for s in samples(fresh_topics, 1)] == [7]

    from simulators import Simulation, SimulationOptions

    births = Simulation(SimulationOptions(devices=3, seed=1)).births()
    text = [b.model_dump_json() for b in births]
    text.insert(1, orjson.dumps({**births[0].model_dump(mode="json"), "kind": "a:b"}).decode())
    path = tmp_path / "births.jsonl"
    path.write_text("\n".join(text))  # no end at the last line
    code, stderr = publish(fresh_topics, tmp_path, "-m", "DeviceBirth", str(path))
    assert code == 1
    assert stderr[0].startswith("line 2: kind: String should match pattern")
    assert stderr[1] == "published 3, refused 0, invalid 1, spooled 0"
    registry = topics.name(topics.Topic.REGISTRY, fresh_topics)
    got = [decode(DeviceBirth, m.value()) for m in read_topic(fresh_topics, registry, 3)]
    assert sorted(got, key=lambda b: b.device_id) == sorted(births, key=lambda b: b.device_id)

    code, stderr = publish(fresh_topics, tmp_path, "-m", "OeeWindow", str(path))
    assert code == 2
    assert stderr == [
        "error: unknown model 'OeeWindow'; choose one of: Reading, Sample, DeviceBirth"
    ]


def test_a_pipe_that_does_not_end_is_published_line_by_line_until_sigterm(
    fresh_topics: Settings, tmp_path: Path
) -> None:
    env = dict(os.environ, IIOT_TOPIC_PREFIX=fresh_topics.topic_prefix)
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "publish", "-", "--spool", str(tmp_path / "spool.sqlite")],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stderr is not None
    try:
        child.stdin.write(line(0) + "\n")
        child.stdin.flush()
        first = samples(fresh_topics, 1)  # there while the pipe is still open
        assert [(s.device_id, s.seq) for s in first] == [("zb-components-p1-l0-smt000", 1)]
        child.stdin.write(f"{line(2, state='broken')}\n{line(4)}\n{line(1)}\n")
        child.stdin.flush()
        assert seqs(samples(fresh_topics, 3)) == {
            "zb-components-p1-l0-smt000": [1, 2],
            "zb-components-p1-l1-smt001": [1],
        }
        child.send_signal(signal.SIGTERM)  # as docker stop: the pipe never ended
        assert child.wait(60) == 1
    finally:
        child.kill()
    lines = child.stderr.read().splitlines()
    assert lines[0].startswith("line 2: state: Input should be 'running'")
    assert lines[1:] == ["published 3, refused 0, invalid 1, spooled 0 (stopped)"]
    assert [d.code for d in letters(fresh_topics, 1)] == ["invalid_field"]


def test_a_pipe_that_ends_is_flushed_and_exits_0(fresh_topics: Settings, tmp_path: Path) -> None:
    env = dict(os.environ, IIOT_TOPIC_PREFIX=fresh_topics.topic_prefix)
    done = subprocess.run(
        [sys.executable, "-m", "cli", "publish", "-", "--spool", str(tmp_path / "spool.sqlite")],
        cwd=REPO, env=env, input="".join(line(i) + "\n" for i in range(40)),
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "published 40, refused 0, invalid 0, spooled 0\n")
    assert all(s == list(range(1, 21)) for s in seqs(samples(fresh_topics, 40)).values())
