"""The fast path's cache of checked seconds stays bounded: a worker that runs for days sees
a new second of event time every second (ids, metric names and whole times were bounded
already, at 100,000 each)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import orjson

from iiot.contract import decode
from iiot.messages import Sample
from iiot.oee import to_ms
from iiot.wire import plain_sample as fast
from tests.conftest import SAMPLE

START = datetime(2026, 11, 26, tzinfo=UTC)
SECONDS = 20_000  # five and a half hours of event time, one sample a second


def samples(n: int):
    for i in range(n):
        at = (START + timedelta(seconds=i, milliseconds=i % 1000)).isoformat(
            timespec="milliseconds"
        )
        yield orjson.dumps(copy.deepcopy(SAMPLE) | {"ts": at.replace("+00:00", "Z"),
                                                   "device_id": f"press{i % 30_000}"})  # fmt: skip


def test_the_seconds_the_stream_worker_remembers_are_bounded() -> None:
    for value in samples(SECONDS):
        checked = fast.plain_sample(value, fast.EPOCH_MS)
        assert checked is not None
        assert len(fast._known_seconds) <= fast._SECONDS_LIMIT < SECONDS
    # Still read as pydantic reads them, after the cache was emptied and refilled.
    assert checked[2] == to_ms(decode(Sample, value).ts)
