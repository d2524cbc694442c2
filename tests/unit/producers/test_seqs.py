"""The seq book: per device rising by one, continued after a clean stop, never repeated after
a crash (the reservation is ahead of what was handed out)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from producers.seqs import SeqBook
from producers.spool import Spool


def test_each_device_counts_from_one_by_one(tmp_path: Path) -> None:
    book = SeqBook(tmp_path / "spool.sqlite")
    assert [book.next("press01") for _ in range(3)] == [1, 2, 3]
    assert [book.next("smt02"), book.next("press01"), book.next("smt02")] == [1, 4, 2]
    assert book.last("press01") == 4 and book.last("cnc03") is None


def test_a_clean_restart_continues_without_a_gap(tmp_path: Path) -> None:
    book = SeqBook(tmp_path / "spool.sqlite", block=10)
    for _ in range(25):
        book.next("press01")
    book.close()
    again = SeqBook(tmp_path / "spool.sqlite", block=10)
    assert again.next("press01") == 26
    assert again.next("smt02") == 1


def test_a_crash_skips_to_above_the_reservation_never_back(tmp_path: Path) -> None:
    """A book that is not closed (the process died) leaves only its reservations behind."""
    book = SeqBook(tmp_path / "spool.sqlite", block=10)
    handed = [book.next("press01") for _ in range(25)]  # reserved up to 30
    after_crash = SeqBook(tmp_path / "spool.sqlite", block=10)
    assert after_crash.next("press01") == 31 > max(handed)


def test_a_reading_with_its_own_seq_raises_the_mark(tmp_path: Path) -> None:
    book = SeqBook(tmp_path / "spool.sqlite", block=10)
    book.next("press01")
    book.saw("press01", 500)
    book.saw("press01", 7)  # an older one (out of order, a replay): the mark stays
    assert book.next("press01") == 501
    crashed = SeqBook(tmp_path / "spool.sqlite", block=10)  # the seen seq was reserved too
    assert crashed.next("press01") > 501


def test_marks_live_in_the_spool_file_beside_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    book = SeqBook(spool.path)
    assert book.next("press01") == 1
    assert len(spool) == 0  # the spool's rows are not touched, its table still works
    book.close()
    spool.close()


def test_a_block_of_less_than_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SeqBook(tmp_path / "spool.sqlite", block=0)


_CHILD = """
import os, sys
from producers.seqs import SeqBook
book = SeqBook(sys.argv[1], block=100)
used = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
for i in range(10_000_000):
    device = f"dev{i % 3}"
    os.write(used, f"{device} {book.next(device)}\\n".encode())  # unbuffered: kept at SIGKILL
    if i == 5_000:
        print("busy", flush=True)
"""


def test_seqs_handed_out_before_a_sigkill_are_never_handed_out_again(tmp_path: Path) -> None:
    path, used = tmp_path / "spool.sqlite", tmp_path / "used.txt"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(used)],
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "busy"  # mid-run: kill it now
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    highest: dict[str, int] = {}
    for line in used.read_text().splitlines():
        device, _, seq = line.partition(" ")
        if seq.isdigit():  # (a line cut by the kill is not whole)
            highest[device] = max(highest.get(device, 0), int(seq))
    assert min(highest.values()) > 1_000
    book = SeqBook(path, block=100)
    for device, reached in highest.items():
        assert book.next(device) > reached


def test_a_numbering_of_its_own_reserves_ahead_and_continues_from_the_marks(
    tmp_path: Path,
) -> None:
    """`iiot simulate` numbers its samples itself: it reserves each batch's highest seqs,
    reports the last ones at the end, and the next run continues from `marks()`."""
    book = SeqBook(tmp_path / "spool.sqlite", block=10)
    book.reserve({"press01": 4, "smt02": 0})
    book.reserve({"press01": 14})  # within 4 + 10: nothing to write
    book.reserve({"press01": 15})  # beyond: a new block
    crashed = SeqBook(tmp_path / "spool.sqlite", block=10)
    assert crashed.marks() == {"press01": 25}  # above anything handed out, smt02 none yet
    crashed.saw("press01", 31)  # the run's last seq, at its clean stop
    crashed.close()
    assert SeqBook(tmp_path / "spool.sqlite").marks() == {"press01": 31}
