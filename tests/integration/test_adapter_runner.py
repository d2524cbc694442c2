"""The adapter's runner against the shared broker, with a source of the test's own (the
protocols' sources have their own tests): births first, readings numbered per device, a
redelivered reading sent once, a refused one dead-lettered with its reason, a source that
gives up stops the run with its one line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from iiot import topics
from iiot.contract import decode
from iiot.messages import DeviceBirth, Sample
from iiot.settings import Settings
from producers.adapters import runner
from producers.adapters.mapping import MAPPING
from producers.adapters.source import Emit, SourceError, Status
from producers.publisher import Publisher
from tests.integration.telemetry_reader import one_sample_records, read_topic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)
ENTERPRISE = {"id": "qd-haier", "name": "海尔智家 Haier", "city": "qingdao",
              "industry": "smart appliances", "cloud": True}  # fmt: skip


def mapping(devices: int) -> runner.Loaded:
    birth = {"enterprise": "qd-haier", "plant_id": "qd-haier-p1", "line_id": "qd-haier-p1-l1",
             "kind": "stamping_press", "key_process": True, "numerically_controlled": True,
             "ideal_cycle_s": 4.8}  # fmt: skip
    device = {"state": {"path": "s"}, "count_total": {"path": "t"}, "count_good": {"path": "g"},
              "state_codes": {6: "running", 9: {"state": "down", "reason": "breakdown"}},
              "birth": birth, "sample_interval_s": 2}  # fmt: skip
    document = {
        "protocol": "mqtt",
        "connection": {"host": "127.0.0.1"},
        "enterprises": [ENTERPRISE],
        "devices": [
            {**device, "device_id": f"press{n}", "topic": f"t/{n}"} for n in range(devices)
        ],
    }
    return runner.Loaded("test.yaml", MAPPING.validate_python(document))


class Scripted:
    """A source that emits what the test tells it to, then waits (or gives up)."""

    def __init__(self, script: list[tuple[str, dict[str, Any], datetime]], give_up: bool) -> None:
        self.script, self.give_up = script, give_up

    async def run(self, emit: Emit, status: Status) -> None:
        for device_id, values, ts in self.script:
            emit(device_id, values, ts)
        if self.give_up:
            raise SourceError("plc.example: certificate not found")
        await asyncio.Event().wait()

    async def probe(self) -> dict[str, dict[str, Any]]:
        return {}


def run_adapter(
    settings: Settings, tmp_path: Path, script: list[Any], monkeypatch: pytest.MonkeyPatch,
    *, give_up: bool = False,
) -> runner.Adapter:  # fmt: skip
    monkeypatch.setattr(runner, "source_for", lambda *_: Scripted(script, give_up))
    with Publisher(settings, tmp_path / "spool.sqlite") as publisher:
        adapter = runner.Adapter([mapping(2)], publisher)
        ticks = iter(range(20))
        asyncio.run(adapter.run(lambda: next(ticks, None) is None))
        publisher.flush()
    return adapter


def test_births_then_readings_numbered_redeliveries_once_bad_ones_dead_lettered(
    fresh_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = []
    for i in range(5):
        for device in ("press0", "press1"):
            values = {"state": 6 if i != 2 else 9, "count_total": 10 * i,
                      "count_good": 10 * i - (i > 3)}  # fmt: skip
            script.append((device, values, T0 + timedelta(seconds=2 * i)))
    script.append(
        ("press0", {"state": 6, "count_total": 40, "count_good": 39}, T0 + timedelta(seconds=8))
    )  # again
    unmapped = {"state": 77, "count_total": 50, "count_good": 50}
    script.append(("press1", unmapped, T0 + timedelta(seconds=10)))
    adapter = run_adapter(fresh_topics, tmp_path, script, monkeypatch)
    assert (adapter.status.readings, adapter.status.duplicates, adapter.status.invalid) == (
        10,
        1,
        1,
    )

    births = read_topic(fresh_topics, topics.name(topics.Topic.REGISTRY, fresh_topics), 2)
    assert {decode(DeviceBirth, r.value()).device_id for r in births} == {"press0", "press1"}
    records = read_topic(fresh_topics, topics.name(topics.Topic.TELEMETRY, fresh_topics), 10)
    samples = [decode(Sample, r.value) for r in one_sample_records(records)]
    for device in ("press0", "press1"):
        mine = [s for s in samples if s.device_id == device]
        assert [s.seq for s in mine] == [1, 2, 3, 4, 5]
        assert [s.ts for s in mine] == [T0 + timedelta(seconds=2 * i) for i in range(5)]
        assert [(s.state, s.reason) for s in mine][2] == ("down", "breakdown")
        assert mine[4].count_good == 39
    (letter,) = read_topic(fresh_topics, topics.name(topics.Topic.DEADLETTER, fresh_topics), 1)
    reason = orjson.loads(letter.value())["reason"]
    assert "state" in reason and "77" in reason


def test_a_source_that_gives_up_stops_the_run_with_its_line(
    fresh_topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SourceError, match="certificate not found"):
        run_adapter(fresh_topics, tmp_path, [], monkeypatch, give_up=True)


def test_a_device_in_two_files_is_one_error() -> None:
    with pytest.raises(SourceError, match="press0 is mapped twice"):
        runner.Adapter([mapping(1), mapping(1)], publisher=None)  # type: ignore[arg-type]
