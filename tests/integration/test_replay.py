"""`iiot replay` against the real broker: a recording goes out as recorded (keys, values byte
for byte, headers, tombstones, per-key order), `--rebase` moves its times, bad lines stop it
unless `--skip-bad`, Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from confluent_kafka import Message

from iiot.recording import Recorded, Writer
from iiot.settings import Settings
from tests.integration.telemetry_reader import read_topic
from tests.invoke import iiot

pytestmark = pytest.mark.integration

REGISTRY, TELEMETRY = "iiot.registry", "iiot.telemetry"
T0 = 1_795_680_005_000  # 2026-11-26T08:00:05.000Z
HEADERS = (("trace", b"abc-1"), ("empty", None))
MALFORMED = b'{"v":1,"device_id":"press-01","ts":"2026-11-26T08:00:'  # cut short: not JSON


def birth(device: str) -> bytes:
    enterprise = {"id": "qd-haier", "name": "Haier", "city": "qingdao",
                  "industry": "smart appliances", "cloud": True}  # fmt: skip
    return orjson.dumps({"v": 1, "device_id": device, "enterprise": enterprise,
                         "plant_id": "qd-haier-p1", "line_id": "qd-haier-p1-l1",
                         "kind": "stamping_press", "key_process": True,
                         "numerically_controlled": True, "sample_interval_s": 5.0,
                         "ideal_cycle_s": 12.5})  # fmt: skip


def sample(device: str, seq: int, ts: str) -> bytes:
    return orjson.dumps({"v": 1, "device_id": device, "ts": ts, "seq": seq, "state": "running",
                         "count_total": seq, "count_good": seq})  # fmt: skip


def batch(device: str, *samples: tuple[int, str]) -> bytes:
    elements = [{"ts": ts, "seq": seq, "state": "running", "count_total": seq, "count_good": seq}
                for seq, ts in samples]  # fmt: skip
    return orjson.dumps({"v": 1, "device_id": device, "samples": elements})


RECORDS = [
    Recorded(REGISTRY, b"press-01", birth("press-01"), T0 - 2_000),
    Recorded(REGISTRY, b"press-02", birth("press-02"), T0 - 1_000),
    Recorded(
        TELEMETRY, b"press-01", sample("press-01", 1, "2026-11-26T08:00:05.000Z"), T0, HEADERS
    ),
    Recorded(TELEMETRY, b"press-02", sample("press-02", 1, "2026-11-26T08:00:05.100Z"), T0 + 100),
    Recorded(
        TELEMETRY,
        b"press-01",
        batch("press-01", (2, "2026-11-26T08:00:10.000Z"), (3, "2026-11-26T08:00:15.000Z")),
        T0 + 5_000,
    ),
    Recorded(TELEMETRY, b"press-01", MALFORMED, T0 + 11_000),
    Recorded(
        TELEMETRY, b"press-01", sample("press-01", 4, "2026-11-26T08:00:20.000Z"), T0 + 15_000
    ),
    Recorded(REGISTRY, b"press-03", None, T0 + 16_000),  # a tombstone: press-03 retired
]
TELEMETRY_SAMPLES = 6  # a batch record counts as its two samples (telemetry_reader)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "incident.jsonl"
    with Writer(path) as writer:
        for record in RECORDS:
            writer.write(record)
    assert b'"value_raw"' in path.read_bytes()  # the malformed value, kept as its text
    return path


# `stream_settings` (conftest.py): a prefix of the test's own, its topics made and deleted.


def run(settings: Settings, *args: str, **env: str) -> Result:
    """`iiot replay ARGS` with the test's topic prefix (and `env`)."""
    return iiot("replay", *args, env={"IIOT_TOPIC_PREFIX": settings.topic_prefix} | env)


def by_key(messages: list[Message]) -> dict[bytes | None, list[Recorded]]:
    """What came back, per key in the order it was read (one key, one partition)."""
    keyed: dict[bytes | None, list[Recorded]] = defaultdict(list)
    for m in messages:
        topic = (m.topic() or "").rsplit(".iiot.", 1)[-1]
        back = Recorded(f"iiot.{topic}", m.key(), m.value(), m.timestamp()[1],
                        tuple(m.headers() or ()))  # fmt: skip
        keyed[m.key()].append(back)
    return dict(keyed)


def expected_by_key(records: list[Recorded], topic: str) -> dict[bytes | None, list[Recorded]]:
    keyed: dict[bytes | None, list[Recorded]] = defaultdict(list)
    for r in records:
        if r.topic == topic:
            keyed[r.key].append(r)
    return dict(keyed)


def read_back(settings: Settings) -> tuple[list[Message], list[Message]]:
    prefix = settings.topic_prefix
    return (
        read_topic(settings, prefix + REGISTRY, 3),
        read_topic(settings, prefix + TELEMETRY, TELEMETRY_SAMPLES),
    )


def test_a_recording_goes_out_as_recorded(stream_settings: Settings, recording: Path) -> None:
    result = run(stream_settings, str(recording), "--speed", "max", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["per_topic"] == {REGISTRY: 3, TELEMETRY: 5}
    assert (summary["records"], summary["not_delivered"], summary["passes"]) == (8, 0, 1)
    assert summary["stopped"] is False
    registry, telemetry = read_back(stream_settings)
    assert by_key(registry) == expected_by_key(RECORDS, REGISTRY)
    assert by_key(telemetry) == expected_by_key(RECORDS, TELEMETRY)
    assert len(registry) == 3 and len(telemetry) == 5  # nothing twice


def test_rebase_moves_kafka_times_and_event_times_by_one_delta(
    stream_settings: Settings, recording: Path
) -> None:
    rebase = ("--rebase", "2026-11-27T00:00:00Z")
    result = run(stream_settings, str(recording), "--speed", "max", *rebase)
    assert result.exit_code == 0, result.output
    registry, telemetry = read_back(stream_settings)
    # The first record (press-01's birth, 08:00:03) moves to midnight: everything by +15:59:57.
    delta = 1_795_737_600_000 - (T0 - 2_000)
    back = by_key(telemetry)
    assert [r.value for r in back[b"press-01"]] == [
        sample("press-01", 1, "2026-11-27T00:00:02.000Z"),
        batch("press-01", (2, "2026-11-27T00:00:07.000Z"), (3, "2026-11-27T00:00:12.000Z")),
        MALFORMED,  # not JSON: byte for byte
        sample("press-01", 4, "2026-11-27T00:00:17.000Z"),
    ]
    assert [r.value for r in back[b"press-02"]] == [
        sample("press-02", 1, "2026-11-27T00:00:02.100Z")
    ]
    assert back[b"press-01"][0].headers == HEADERS
    assert by_key(registry)[b"press-01"][0].value == birth("press-01")  # no event time in it
    for topic, messages in ((REGISTRY, registry), (TELEMETRY, telemetry)):
        expected = expected_by_key(RECORDS, topic)
        assert {key: [r.timestamp_ms for r in rs] for key, rs in by_key(messages).items()} == {
            key: [(r.timestamp_ms or 0) + delta for r in rs] for key, rs in expected.items()
        }


def test_a_bad_line_stops_it_with_its_number_and_skip_bad_goes_on(
    stream_settings: Settings, recording: Path
) -> None:
    lines = recording.read_bytes().splitlines(keepends=True)
    lines.insert(2, b'{"topic":"iiot.telemetry","key":"press-01",\n')  # line 3
    recording.write_bytes(b"".join(lines))

    failed = run(stream_settings, str(recording), "--speed", "max")
    assert failed.exit_code == 1
    (line,) = failed.stderr.splitlines()
    assert line.startswith(f"error: {recording} line 3: not JSON (")
    assert failed.stdout == ""  # nothing sent: every line is read before the first record goes

    skipped = run(stream_settings, str(recording), "--speed", "max", "--skip-bad", "--json")
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)["skipped_bad_lines"] == 1
    assert json.loads(skipped.stdout)["records"] == len(RECORDS)
    (warning,) = [w for w in skipped.stderr.splitlines() if "older than" not in w]
    assert warning.startswith(f"warning: skipped 1 bad line(s) of {recording}, the first at line 3")
    _, telemetry = read_back(stream_settings)
    assert len(telemetry) == 5


def test_ctrl_c_stops_sending_flushes_and_prints_the_summary(
    stream_settings: Settings, tmp_path: Path
) -> None:
    """A minute of recording at its own pace, stopped after the first records went out."""
    path = tmp_path / "minute.jsonl"
    with Writer(path) as writer:
        for i in range(60):
            ts = f"2026-11-26T08:{i // 60:02d}:{i % 60:02d}.000Z"
            writer.write(Recorded(TELEMETRY, b"press-01", sample("press-01", i, ts), T0 + i * 1000))
    env = dict(os.environ, IIOT_TOPIC_PREFIX=stream_settings.topic_prefix)
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "replay", str(path), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(4)  # connected, and a few records sent
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    summary = json.loads(out)
    assert 0 < summary["records"] < 60
    assert (summary["stopped"], summary["passes"], summary["not_delivered"]) == (True, 0, 0)
    topic = stream_settings.topic_prefix + TELEMETRY
    telemetry = read_topic(stream_settings, topic, summary["records"])
    assert len(telemetry) == summary["records"]


def test_an_old_recording_is_warned_of_unless_rebased(
    stream_settings: Settings, recording: Path
) -> None:
    """Kafka deletes telemetry older than its retention by timestamp: such a replay may lose
    records before they are read (2026-11-26 is older than 7 days after 2026-12-03)."""
    old = run(
        stream_settings, str(recording), "--speed", "max", "--json",
        IIOT_KAFKA_TELEMETRY_RETENTION_DAYS="7",  # as the pipeline's topics have it
    )  # fmt: skip
    assert old.exit_code == 0, old.output
    assert ("older than iiot.telemetry keeps records" in old.stderr) == (
        time.time() * 1000 - T0 > 7 * 86_400_000
    )
    moved = run(stream_settings, str(recording), "--speed", "max", "--json", "--rebase", "now")
    assert "older than" not in moved.stderr
