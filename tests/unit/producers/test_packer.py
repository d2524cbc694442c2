"""The packer's bounds: record size, sample count, latency; and per-device order."""

from __future__ import annotations

import orjson

from iiot.wire.sample_batch import unpack
from producers.packer import Packer, packed, samples_in, unpacked
from producers.spool import Record

DEVICE = b"press-01"


def sample(seq: int, device: bytes = DEVICE, pad: int = 0) -> bytes:
    fields = {"v": 1, "device_id": device.decode(), "ts": f"2026-11-26T08:00:{seq % 60:02d}.000Z"}
    fields |= {"seq": seq, "state": "running", "count_total": seq, "count_good": seq}
    return orjson.dumps(fields | {"metrics": {"x": "y" * pad} if pad else {}})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sent(list[tuple[bytes, list[bytes], list[int]]]):
    going = True  # False: as if the Publisher found the broker away

    def __call__(self, key: bytes, values: list[bytes], stamps: list[int]) -> bool:
        self.append((key, list(values), list(stamps)))
        return self.going


def packer(sent: Sent, clock: Clock, **bounds: int) -> Packer:
    return Packer(sent, latency_s=0.2, max_bytes=bounds.get("max_bytes", 100_000),
                  max_samples=bounds.get("max_samples", 5_000), clock=clock)  # fmt: skip


def test_the_count_bound_starts_a_new_record() -> None:
    sent, clock = Sent(), Clock()
    p = packer(sent, clock, max_samples=3)
    for seq in range(1, 8):
        p.add(DEVICE, sample(seq), seq)
    assert [stamps for _, _, stamps in sent] == [[1, 2, 3], [4, 5, 6]]
    p.send_all()
    assert [stamps for _, _, stamps in sent][-1] == [7]


def test_the_size_bound_is_never_passed() -> None:
    sent, clock = Sent(), Clock()
    p = packer(sent, clock, max_bytes=4_096)
    for seq in range(1, 200):
        p.add(DEVICE, sample(seq, pad=100), seq)
    p.send_all()
    seqs = [stamp for _, _, stamps in sent for stamp in stamps]
    assert seqs == list(range(1, 200))
    assert len(sent) > 1
    for key, values, _ in sent:
        assert len(packed(key, values)) <= 4_096


def test_the_latency_bound_sends_the_oldest_devices_only() -> None:
    sent, clock = Sent(), Clock()
    p = packer(sent, clock)
    p.add(DEVICE, sample(1), 1)
    clock.now += 0.15
    p.add(b"lathe-02", sample(1, b"lathe-02"), 1)
    p.add(DEVICE, sample(2), 2)
    p.send_due()
    assert sent == []
    clock.now += 0.06  # the press's first has waited 0.21 s, the lathe's 0.06 s
    p.send_due()
    assert [(key, stamps) for key, _, stamps in sent] == [(DEVICE, [1, 2])]
    p.send_due(within_s=0.15)  # a pause of 0.15 s would carry the lathe's past 0.2 s
    assert [key for key, _, _ in sent] == [DEVICE, b"lathe-02"]
    assert len(p) == 0


def test_one_sample_waiting_goes_as_the_sample_itself() -> None:
    sent, clock = Sent(), Clock()
    p = packer(sent, clock)
    p.add(DEVICE, sample(1), 1)
    clock.now += 1
    p.send_due()
    ((key, values, _),) = sent
    assert packed(key, values) == sample(1)
    assert samples_in(sample(1)) == 1


def test_a_batch_record_unpacks_to_its_samples_with_their_event_times() -> None:
    values = [sample(seq) for seq in (5, 6, 7)]
    value = packed(DEVICE, values)
    batch = unpack(value)
    assert batch is not None and [s["seq"] for s in batch.samples] == [5, 6, 7]
    assert samples_in(value) == 3
    records = unpacked(Record("t", DEVICE, value, 0))
    assert [r.value for r in records] == values
    assert [r.timestamp_ms % 60_000 for r in records] == [5_000, 6_000, 7_000]


def test_plain_is_the_usual_spelling_of_the_keys_own_device() -> None:
    p = packer(Sent(), Clock())
    assert p.plain(DEVICE, sample(1))
    assert not p.plain(b"lathe-02", sample(1))  # another device's
    assert not p.plain(DEVICE, sample(1)[:40])  # cut off mid-message
    assert not p.plain(DEVICE, b'{"device_id":"press-01","v":1}')  # another spelling
    assert not p.plain(None, sample(1))


def test_send_key_sends_only_that_device_and_keeps_its_order() -> None:
    sent, clock = Sent(), Clock()
    p = packer(sent, clock)
    for seq in (1, 2):
        p.add(DEVICE, sample(seq), seq)
        p.add(b"lathe-02", sample(seq, b"lathe-02"), seq)
    p.send_key(DEVICE)
    assert [(key, stamps) for key, _, stamps in sent] == [(DEVICE, [1, 2])]
    assert DEVICE not in p and b"lathe-02" in p
    assert p.take_all() == [(b"lathe-02", sample(s, b"lathe-02"), s) for s in (1, 2)]


def test_a_sample_is_not_taken_when_its_full_record_found_packing_stopped() -> None:
    """The Publisher spooled the full record instead (the broker went away meanwhile): the
    sample that did not fit must follow it to the spool, not wait here."""
    sent, clock = Sent(), Clock()
    p = packer(sent, clock, max_samples=2)
    assert p.add(DEVICE, sample(1), 1) and p.add(DEVICE, sample(2), 2)
    sent.going = False
    assert not p.add(DEVICE, sample(3), 3)
    assert [stamps for _, _, stamps in sent] == [[1, 2]]
    assert len(p) == 0
