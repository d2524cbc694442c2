"""A province dealt over several processes (`iiot simulate --workers`): every device's
records are byte for byte those of the whole run, and the shards add up to it."""

from __future__ import annotations

from collections import defaultdict

import pytest
from pydantic import ValidationError

from simulators import FaultRates, Simulation, SimulationOptions

FAULTS = FaultRates(duplicate=0.02, out_of_order=0.02, late=0.01, gap=0.005, malformed=0.01)


def per_device(simulation: Simulation) -> dict[bytes, list[tuple[object, ...]]]:
    records: defaultdict[bytes, list[tuple[object, ...]]] = defaultdict(list)
    for e in simulation.run():
        records[e.key].append((e.topic, e.value, e.timestamp_ms, e.valid, e.due_ms))
    return records


def test_shards_make_each_device_exactly_as_the_whole_run_does() -> None:
    options = {"devices": 30, "seed": 3, "duration_s": 900, "faults": FAULTS}
    whole = Simulation(SimulationOptions(**options))
    expected = per_device(whole)
    shards = [Simulation(SimulationOptions(**options, shard=k, shards=3)) for k in range(3)]
    made = [per_device(shard) for shard in shards]
    assert sorted(len(m) for m in made) == [10, 10, 10]  # devices dealt evenly
    combined = {key: records for m in made for key, records in m.items()}
    assert combined == expected
    assert sum(s.injected.samples for s in shards) == whole.injected.samples
    for fault, count in whole.injected.counts.items():
        assert sum(s.injected.counts[fault] for s in shards) == count


def test_a_shard_beyond_the_count_is_refused() -> None:
    with pytest.raises(ValidationError, match="shards count from 0"):
        SimulationOptions(shard=2, shards=2)
