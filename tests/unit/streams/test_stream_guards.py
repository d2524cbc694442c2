"""The stream worker's guards on their own: the future guard across partition moves and
skewed first samples, and the compact, bounded form of samples held for their birth."""

from __future__ import annotations

import orjson
import pytest

from iiot.contract import ContractError
from iiot.oee import Reading
from streams.batch import Batch
from streams.clock import HISTORY, PartitionClocks
from streams.held import (
    HELD_FOR_MS,
    HELD_ROW_MAX_BYTES,
    MAX_HELD_PER_DEVICE,
    MAX_HELD_PER_PARTITION,
    Held,
    HeldSamples,
)
from streams.ingest import AGREEING, FutureGuard, GuardState
from tests.conftest import SAMPLE
from tests.unit.sinks.test_sink_telemetry_rows import raw

MIN = 60_000
T0 = 1_795_000_000_000  # 2026-11-18, in epoch ms
TOLERANCE = 5 * MIN


def refused(guard: FutureGuard, partition: int, ts_ms: int) -> bool:
    try:
        guard.check(partition, ts_ms)
    except ContractError as error:
        assert error.code == "future_ts"
        return True
    return False


def test_a_partition_back_after_its_time_moved_on_is_judged_by_its_changelog() -> None:
    written: dict[int, GuardState] = {}  # what the partition's owners wrote
    guard = FutureGuard(TOLERANCE, restored=lambda partition, _offset: written.get(partition))
    assert not any(refused(guard, 0, T0 + i * 1_000) for i in range(10))
    assert guard.newest_ms[0] == T0 + 9_000
    guard.forget({0})  # revoked: another worker holds it for 20 min of event time
    written[0] = (T0 + 20 * MIN, None, 0)
    guard.forget({0})  # assigned again
    guard.resume(0, 1_234)
    assert not refused(guard, 0, T0 + 20 * MIN + 1_000)  # not 20 min ahead of T0 + 9 s
    assert refused(guard, 0, T0 + 30 * MIN)  # still a guard


@pytest.mark.parametrize("skew_ms", [10 * 365 * 24 * 3_600_000, -365 * 24 * 3_600_000])
def test_a_skewed_first_sample_of_a_fresh_partition_sets_nothing(skew_ms: int) -> None:
    guard = FutureGuard(TOLERANCE)
    assert not refused(guard, 3, T0 + skew_ms)  # nothing to judge it by: accepted
    assert guard.newest_ms.get(3) is None  # but it is not the partition's time
    good = [T0 + i * 1_000 for i in range(20)]
    assert not any(refused(guard, 3, ts) for ts in good)
    assert guard.newest_ms[3] == good[-1]  # set by AGREEING good samples, not the skewed one
    assert refused(guard, 3, T0 + skew_ms) == (skew_ms > 0)


def test_a_skewed_first_sample_after_a_move_is_refused_against_the_changelog() -> None:
    guard = FutureGuard(TOLERANCE, restored=lambda _partition, _offset: (T0, None, 0))
    guard.resume(1, 0)
    assert refused(guard, 1, T0 + 3_600_000)
    assert not refused(guard, 1, T0 + 1_000)
    assert guard.newest_ms[1] == T0 + 1_000


def test_one_skewed_clock_among_others_never_moves_the_partition() -> None:
    guard = FutureGuard(TOLERANCE)
    guard.newest_ms[0] = T0
    results = []
    for i in range(50):
        results.append(refused(guard, 0, T0 + 3_600_000 + i * 1_000))  # a device 1 h ahead
        assert not refused(guard, 0, T0 + i * 1_000)  # the others, on time
    assert all(results) and guard.newest_ms[0] == T0 + 49_000


def test_a_partition_whose_samples_all_jumped_ahead_follows_them() -> None:
    # A shop silent over a weekend: the samples of Monday agree among themselves.
    guard = FutureGuard(TOLERANCE)
    guard.newest_ms[0] = T0
    monday = T0 + 2 * 24 * 3_600_000
    outcomes = [refused(guard, 0, monday + i * 1_000) for i in range(10)]
    assert outcomes == [True] * (AGREEING - 1) + [False] * (10 - AGREEING + 1)
    assert guard.newest_ms[0] == monday + 9_000


def reading(ts_ms: int, seq: int = 1, total: int = 10) -> Reading:
    return Reading(ts_ms, seq, "running", total, total, 12.5)


class Table(dict):
    """What HeldSamples uses of a Faust table (its data, items, changelog topic)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = self

    class changelog_topic:
        @staticmethod
        def get_topic_name() -> str:
            return "held-changelog"

    key_serializer = "raw"


def test_a_full_device_stays_far_under_a_kafka_record_whatever_its_numbers() -> None:
    table = Table()
    held, batch = HeldSamples(table), Batch()  # type: ignore[arg-type]
    big = 2**63 - 1
    for _ in range(MAX_HELD_PER_DEVICE):
        r = Reading(big, big, "planned_stop", big, big, -1.2345678901234567e-300)
        assert held.hold(batch, "dev-x", 7, big, r) == ""
    assert "held already" in held.hold(batch, "dev-x", 7, 1, reading(T0))
    assert "too large" in held.hold(batch, "dev-y", 7, 1, Reading(T0, 2**64, "idle", 1, 1))
    held.write(batch)
    value = table["dev-x"]
    assert len(value) < (HELD_ROW_MAX_BYTES + 1) * MAX_HELD_PER_DEVICE + 16 < 300_000
    back = Held.loads(value, "dev-x", 0)
    assert back.partition == 7 and len(back.rows) == MAX_HELD_PER_DEVICE
    assert back.rows[0] == (
        big,
        Reading(big, big, "planned_stop", big, big, -1.2345678901234567e-300),
    )


def test_a_partition_holds_a_bounded_number_of_samples_of_unknown_devices() -> None:
    held, batch = HeldSamples(Table()), Batch()  # type: ignore[arg-type]
    for i in range(MAX_HELD_PER_PARTITION):
        assert held.hold(batch, f"dev-{i % 5_000}", 2, i, reading(T0 + i)) == ""
    assert "in its partition" in held.hold(batch, "dev-new", 2, 1, reading(T0))
    assert held.hold(batch, "dev-new", 3, 1, reading(T0)) == ""  # another partition


def test_samples_held_too_long_expire_once_each_and_the_rest_stay() -> None:
    table = Table()
    held, batch = HeldSamples(table), Batch()  # type: ignore[arg-type]
    for i in range(10):
        held.hold(batch, "dev-a", 0, 100 + i, reading(T0 + i * MIN, seq=i))
    held.write(batch)
    now = T0 + 5 * MIN + HELD_FOR_MS
    expired = list(held.expire(batch, 0, now))
    assert [(d, o, r.seq) for d, o, r in expired] == [("dev-a", 100 + i, i) for i in range(5)]
    assert list(held.expire(batch, 0, now)) == []
    held.write(batch)
    held.rebuild()  # as after a recovery: from the table
    assert [o for o, _ in held.copies["dev-a"].rows] == [105, 106, 107, 108, 109]
    assert held.counts[0] == 5
    assert len(list(held.expire(batch, 0, now + 10 * MIN))) == 5
    assert "dev-a" not in table and held.counts[0] == 0


def test_held_values_of_the_former_form_are_read() -> None:
    # Before, a device's held samples were a list of their JSON texts.
    former = orjson.dumps([raw(SAMPLE).decode()])
    held = Held.loads(former, SAMPLE["device_id"], 4)
    assert held.partition == 4 and held.rows[0][0] is None
    assert held.rows[0][1].seq == SAMPLE["seq"]


def test_a_replay_from_the_last_commit_judges_as_the_first_run_did() -> None:
    # Samples 1 s apart, one 301 s ahead of its time at offset 12: refused the first time.
    # The worker wrote batches up to offset 59, its commit was at offset 10: the replay
    # must refuse it again, though it is within 5 min of the newest time written (59 s).
    times = [T0 + i * 1_000 + (301_000 if i == 12 else 0) for i in range(60)]
    table = Table()

    def run(resume_at: int) -> list[bool]:
        guard = FutureGuard(TOLERANCE)
        clocks = PartitionClocks(table, guard)  # type: ignore[arg-type]
        guard.restored = clocks.at
        guard.resume(0, resume_at)
        outcomes, batch = [], Batch()
        for offset in range(resume_at, len(times)):
            outcomes.append(refused(guard, 0, times[offset]))
            batch.ends[0] = offset + 1
            if offset % 5 == 4:  # a batch written
                clocks.write(batch)
                batch = Batch()
        return outcomes

    first = run(0)
    assert first[12] and sum(first) == 1
    assert run(10) == first[10:]
    assert run(13) == first[13:]  # resumed after it: the next ones are fine
    assert len(orjson.loads(table["0"])) <= HISTORY
