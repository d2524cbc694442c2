"""A simulation that continues another: each device's seqs above its base, nothing else
changed, and every seq it may hand out reserved before it is made."""

from __future__ import annotations

from pathlib import Path

import orjson

from producers.seqs import SeqBook
from simulators import Emitted, FaultRates, Simulation, SimulationOptions

OPTIONS = SimulationOptions(
    devices=12, duration_s=900, seed=2, faults=FaultRates(duplicate=0.02, gap=0.01)
)


def samples(events: list[Emitted]) -> list[dict[str, object]]:
    return [orjson.loads(e.value) for e in events if e.topic.value == "iiot.telemetry"]


def test_seqs_continue_above_the_base_and_nothing_else_changes() -> None:
    fresh = Simulation(OPTIONS)
    plain = samples(list(fresh.run()))
    simulation = Simulation(OPTIONS)
    base = {d: 1_000 * (i + 1) for i, d in enumerate(fresh.last_seqs())}
    continued = samples(list(simulation.run(seq_base=base)))
    assert len(continued) == len(plain)
    for before, after in zip(plain, continued, strict=True):
        assert after["seq"] == before["seq"] + base[before["device_id"]]  # type: ignore[operator]
        assert {**after, "seq": 0} == {**before, "seq": 0}
    lasts = simulation.last_seqs()
    assert all(lasts[d] - base[d] == n for d, n in fresh.last_seqs().items())
    assert simulation.injected.samples == fresh.injected.samples  # made in this run only


def test_every_seq_is_reserved_before_its_sample_is_made(tmp_path: Path) -> None:
    """What a crash would leave on disk (the committed reservations) lies at or above every
    seq already made."""
    path = tmp_path / "spool.sqlite"
    book = SeqBook(path, block=5)
    committed: dict[str, int] = {}

    def reserve(upto: dict[str, int]) -> None:
        book.reserve(upto)
        committed.update(SeqBook(path).marks())  # read back as a restart would

    made = 0
    for event in Simulation(OPTIONS).run(reserve=reserve):
        if event.topic.value == "iiot.telemetry":
            sample = orjson.loads(event.value)
            assert sample["seq"] <= committed[sample["device_id"]]
            made += 1
    assert made > 0
