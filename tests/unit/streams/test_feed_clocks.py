"""Each telemetry partition's clock on the roll-up feed (streams/feed.py): sent by the device
flow when it moved, kept by the roll-up flow at its newest, so the roll-ups forget only what
the slowest partition has passed (tests/unit/streams/test_rollup_state.py)."""

from __future__ import annotations

import orjson

from streams.batch import Batch
from streams.feed import FED_CLOCKS, FED_WINDOWS
from streams.ingest import AGREEING
from streams.rollup_flow import RollupFlow
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
