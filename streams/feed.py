"""The roll-up feed: the internal one-partition topic from the device flow to the roll-up
flow. A record is a birth (key b"birth", its DeviceBirth bytes), many device windows
(key FED_WINDOWS, a JSON list of [window key, member]; a member is
[device_id, start_ms, revision, late_samples, parts row]), or the partitions' clocks (key
FED_CLOCKS, a JSON list of [telemetry partition, its newest event time in ms]).
"""

from __future__ import annotations

from typing import Any

import orjson

from iiot.oee import Parts
from streams.batch import Outbox
from streams.rollup_state import RollupState

FED_WINDOWS = b"windows"  # key of a roll-up feed record holding device windows
FED_CLOCKS = b"clocks"  # key of a roll-up feed record holding the partitions' clocks
FED_PER_RECORD = 2_000

Member = list[Any]  # [device_id, start_ms, revision, late_samples, parts row]
Fed = list[tuple[str, Member]]  # (window key, member): device windows for the roll-ups


def feed_record(feed_topic: str, fed: Fed) -> Outbox:
    # One record of many device windows: a record each cost a send and, in the roll-ups'
    # agent, a whole Faust event; births go one by one (key b"birth"), before.
    # At most FED_PER_RECORD windows a record (~150 B each), well under Kafka's 1 MB.
    return [
        (feed_topic, FED_WINDOWS, orjson.dumps(fed[i : i + FED_PER_RECORD]), None)
        for i in range(0, len(fed), FED_PER_RECORD)
    ]


def clock_record(feed_topic: str, clocks: dict[int, int]) -> Outbox:
    # After the final windows of the batch they end (one partition: in order): the
    # roll-ups forget only what the slowest partition has passed (RollupState.settled_ms).
    if not clocks:
        return []
    return [(feed_topic, FED_CLOCKS, orjson.dumps(sorted(clocks.items())), None)]


def member_start(raw: bytes) -> int:
    start: int = orjson.loads(raw)[1]
    return start


def add_member(rollup: RollupState, member: Member) -> bool:
    """False if the roll-ups hold a newer revision of this device window (see RollupState)."""
    device_id, start, revision, late, row = member
    return rollup.on_device_window(device_id, start, Parts(*row), revision, late)
