"""The spool at its cap and on a full disk: it refuses whole appends and keeps what it has.

The full disk is real: a 512 KB tmpfs mounted for the test (the tests run as root, as the
local stack's do), unmounted afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from producers.seqs import SeqBook
from producers.spool import Record, Spool, SpoolFull


def records(n: int, start: int = 0, size: int = 1_000) -> list[Record]:
    return [
        Record("iiot.telemetry", f"dev-{i % 3}".encode(), b"%08d" % i + b"x" * size, 1_000 + i)
        for i in range(start, start + n)
    ]


def fill(spool: Spool, batch: int = 20) -> tuple[list[Record], SpoolFull]:
    """Append batches until the spool refuses one; returns what it took, and the refusal."""
    taken: list[Record] = []
    for start in range(0, 100_000, batch):
        chunk = records(batch, start)
        try:
            spool.append(chunk)
        except SpoolFull as full:
            return taken, full
        taken += chunk
    raise AssertionError("the spool never filled up")


def test_the_cap_refuses_a_whole_batch_and_keeps_the_rest_in_order(tmp_path: Path) -> None:
    cap = 200_000
    spool = Spool(tmp_path / "spool.sqlite", max_bytes=cap)
    taken, full = fill(spool)
    assert "is full" in str(full) and "IIOT_SPOOL_MAX_BYTES" in str(full)
    assert len(taken) > 100
    assert spool.used_bytes() <= cap + 20 * 4096  # within a batch's pages of the cap
    assert [row.record for row in spool.read(limit=100_000)] == taken
    assert len(spool) == len(taken)
    # Draining frees room: the next batch goes in, behind what was left.
    spool.delete_upto(spool.read(limit=len(taken) // 2)[-1].id)
    spool.append(records(20, 50_000))
    rows = [row.record for row in spool.read(limit=100_000)]
    assert rows == taken[len(taken) // 2 :] + records(20, 50_000)


def test_an_empty_spool_takes_a_batch_larger_than_its_cap(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", max_bytes=65_536)
    spool.append(records(200))  # 200 KB: one batch always fits, so nothing gets stuck
    with pytest.raises(SpoolFull):
        spool.append(records(1))
    assert len(spool) == 200


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_refuses_the_append_and_keeps_the_spool_whole(small_disk: Path) -> None:
    path = small_disk / "spool.sqlite"
    spool = Spool(path)  # no cap: the disk is the limit
    taken, full = fill(spool, batch=10)
    assert "the disk is full" in str(full), full
    assert len(taken) > 50
    assert [row.record for row in spool.read(limit=100_000)] == taken
    with pytest.raises(SpoolFull):  # still full: refused again, not crashed
        spool.append(records(10, 90_000))
    # Sent, but the delete finds no room either: the rows count as gone in this process…
    spool.delete_upto(spool.read(limit=100_000)[-1].id)
    assert (len(spool), spool.read()) == (0, [])
    spool.close()
    # …and are still in the file: a restart sends them again (dropped downstream by seq).
    reopened = Spool(path)
    assert [row.record for row in reopened.read(limit=100_000)] == taken
    reopened.close()


def test_a_seq_block_that_cannot_be_reserved_is_not_handed_out(small_disk: Path) -> None:
    path = small_disk / "spool.sqlite"
    spool = Spool(path)
    book = SeqBook(path, block=10)
    assert book.next("qd-press01") == 1
    fill(spool, batch=10)
    fill(spool, batch=1)  # not a page left
    handed = [book.next("qd-press01") for _ in range(9)]  # 2…10: reserved already
    with pytest.raises(SpoolFull, match="no seq for qd-press01"):
        book.next("qd-press01")
    assert handed == list(range(2, 11))
    book.close()  # the reservation stands (10): no crash although the marks cannot be written
    spool.close()
