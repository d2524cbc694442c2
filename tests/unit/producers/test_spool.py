"""The disk spool keeps records in order, across reopening, and admits one process at a time."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from producers.spool import Record, Spool, SpoolLocked

REPO = Path(__file__).resolve().parents[3]


def records(n: int, start: int = 0) -> list[Record]:
    return [
        Record("iiot.telemetry", f"dev-{i % 3}".encode(), f'{{"seq":{i}}}'.encode(), 1_000 + i)
        for i in range(start, start + n)
    ]


def test_rows_come_back_in_the_order_they_went_in(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(records(5))
    spool.append(records(5, start=5))
    assert [row.record for row in spool.read()] == records(10)
    assert len(spool) == 10


def test_read_pages_after_a_cursor_and_delete_forgets_rows(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(records(10))
    first = spool.read(limit=4)
    rest = spool.read(after_id=first[-1].id)
    assert [r.record for r in first + rest] == records(10)
    spool.delete(row.id for row in first)
    assert len(spool) == 6
    assert [r.record for r in spool.read()] == records(6, start=4)


def test_committed_rows_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.append(records(100))
    spool.delete(row.id for row in spool.read(limit=30))
    spool.close()
    reopened = Spool(path)
    assert len(reopened) == 70
    assert [r.record for r in reopened.read()] == records(70, start=30)
    # New rows go behind the old ones, even after the oldest were deleted.
    reopened.append(records(1, start=100))
    assert reopened.read()[-1].record == records(1, start=100)[0]


def test_keys_and_values_may_be_null_or_binary(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    odd = [Record("iiot.telemetry", None, b"\xff\x00not json", 0), Record("t", b"k", None, 1)]
    spool.append(odd)
    assert [r.record for r in spool.read()] == odd


def test_a_second_publisher_cannot_open_the_same_spool(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    with pytest.raises(SpoolLocked, match="in use"):
        Spool(path)
    spool.close()
    Spool(path).close()


def test_a_commit_survives_sigkill_of_the_process(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    script = (
        "import os, signal, sys\n"
        "from producers.spool import Record, Spool\n"
        "spool = Spool(sys.argv[1])\n"
        "spool.append([Record('iiot.telemetry', b'k', b'%d' % i, i) for i in range(1000)])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO, check=False)
    assert done.returncode == -signal.SIGKILL
    reopened = Spool(path)  # the killed process's lock went with it
    assert [r.record.value for r in reopened.read(limit=2_000)] == [b"%d" % i for i in range(1000)]
