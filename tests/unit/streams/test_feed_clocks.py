"""Each telemetry partition's clock on the roll-up feed (streams/feed.py): sent by the device
flow when it moved, kept by the roll-up flow at its newest, so the roll-ups forget only what
the slowest partition has passed (tests/unit/streams/test_rollup_state.py)."""

from __future__ import annotations

import orjson

from iiot.oee import Parts
from streams.batch import Batch
from streams.feed import FED_CLOCKS, FED_WINDOWS
from streams.ingest import AGREEING
from streams.rollup_flow import FORGET_EVERY, RollupFlow
from tests.conftest import BIRTH
from tests.unit.streams.flow_harness import T0, Event, Message, Worker, sample

KNOWN = "qd-haier-p1-l2-press03"
AT_0 = int(T0.timestamp() * 1000)


def clocks_sent(worker: Worker) -> list[list[list[int]]]:
    feed = worker.flow.feed_topic
    return [orjson.loads(v) for to, k, v, _ in worker.sent if to == feed and k == FED_CLOCKS]


def test_a_partitions_clock_is_sent_when_it_moves_and_only_then() -> None:
    worker = Worker()
    worker.birth(KNOWN, partition=2)
    for seq in range(1, AGREEING + 1):  # the partition's time, once samples agree on it
        worker.sample(sample(KNOWN, seq, 10 * seq), partition=2)
    worker.tick()
    worker.tick()  # nothing new: nothing sent, so the feed goes quiet (iiot demo waits for it)
    worker.sample(sample(KNOWN, 99, 200), partition=2)
    worker.tick()
    first = AT_0 + 10_000 * AGREEING
    assert clocks_sent(worker) == [[[2, first]], [[2, AT_0 + 200_000]]]


def test_the_rollups_keep_each_partitions_newest_clock() -> None:
    rollups: RollupFlow = Worker().app.rollup_flow  # type: ignore[attr-defined]
    batch = Batch()
    for offset, clocks in enumerate([[[0, 5], [1, 7]], [[0, 3]], [[0, 9]]]):
        event = Event(Message("feed", 0, offset, 0.0), FED_CLOCKS, orjson.dumps(clocks))
        rollups.take(batch, event)  # type: ignore[arg-type]
    assert rollups.rollup.clocks == {0: 9, 1: 7}  # a replay's older clock changes nothing
    assert batch.members == {"clock:0": 9, "clock:1": 7}  # into its table, for a restart


def test_a_clock_follows_the_final_windows_of_its_batch() -> None:
    # Sent ahead of them, a clock could pass an hour while that hour's last windows wait in
    # the open batch (after an outage one batch holds an hour or more of backlog).
    worker = Worker()
    worker.birth(KNOWN)
    for seq in range(1, 60):  # ten minutes: the first windows are final within the batch
        worker.sample(sample(KNOWN, seq, 10 * seq))
    out = worker.flow.write(worker.batch)
    keys = [key for topic, key, _, _ in out if topic == worker.flow.feed_topic]
    assert FED_WINDOWS in keys and keys[-1] == FED_CLOCKS


def test_windows_and_the_clock_that_passes_them_in_one_batch_are_emitted() -> None:
    # After an outage one feed record holds an hour of final windows and the next one the
    # clock past them; both in one batch of the roll-ups, forgetting came before the emit
    # timer and those windows never went out (CI's kafka_stopped_60s: 3 windows missing).
    rollups: RollupFlow = Worker().app.rollup_flow  # type: ignore[attr-defined]
    birth = orjson.dumps(BIRTH)
    row = Parts(60_000, run_ms=60_000, samples=6).row()
    members = [[f"w{i}", [BIRTH["device_id"], AT_0 + i * 60_000, 0, 0, row]] for i in range(70)]
    clocks = [[0, AT_0 + 2 * 3_600_000]]
    batch = Batch()
    for offset, (key, value) in enumerate(
        [
            (b"birth", birth),
            (FED_WINDOWS, orjson.dumps(members)),
            (FED_CLOCKS, orjson.dumps(clocks)),
        ]
    ):
        rollups.take(batch, Event(Message("feed", 0, offset, 0.0), key, value))  # type: ignore[arg-type]
    rollups.forgot_at = -FORGET_EVERY  # time to forget
    rollups.write(batch)
    emitted = {orjson.loads(v)["window_start"] for _, _, v, _ in rollups.emit()}
    assert len([s for s in emitted if s.startswith(T0.date().isoformat())]) >= 70
    assert rollups.rollup.forgotten_ms > AT_0 + 10 * 60_000  # forgotten after they went out
    rollups.forgot_at = -FORGET_EVERY
    rollups.write(Batch())
    assert min(rollups.rollup.windows) > AT_0 + 10 * 60_000
