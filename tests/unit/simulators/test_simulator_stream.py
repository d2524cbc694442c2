"""The simulated stream: deterministic, valid against the contract, in a sensible order."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iiot.contract import decode, encode
from iiot.kpi import oee_ratios
from iiot.messages import DeviceBirth, Sample
from iiot.topics import Topic
from simulators import Emitted, FaultRates, Simulation, SimulationOptions

Parts = dict[str, float]
ROOT = Path(__file__).resolve().parents[3]
SOME_FAULTS = FaultRates(
    duplicate=0.01, out_of_order=0.01, late=0.01, gap=0.002, counter_reset=0.002,
    clock_skew=0.01, malformed=0.01,
)  # fmt: skip


def digest(events: list[Emitted]) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(repr((e.topic.value, e.key, e.value, e.timestamp_ms, e.valid, e.due_ms)).encode())
    return h.hexdigest()


def run(**options: object) -> list[Emitted]:
    return list(Simulation(SimulationOptions(**options)).run())  # type: ignore[arg-type]


def test_same_seed_and_options_give_a_byte_identical_stream() -> None:
    a = run(seed=7, devices=30, duration_s=1_800, faults=SOME_FAULTS)
    b = run(seed=7, devices=30, duration_s=1_800, faults=SOME_FAULTS)
    assert a == b
    assert digest(run(seed=8, devices=30, duration_s=1_800, faults=SOME_FAULTS)) != digest(a)


def test_stream_does_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import sys; sys.path.insert(0, 'tests/unit/simulators'); "
        "from test_simulator_stream import digest, run, SOME_FAULTS; "
        "print(digest(run(seed=3, devices=12, duration_s=600, faults=SOME_FAULTS)))"
    )
    here = digest(run(seed=3, devices=12, duration_s=600, faults=SOME_FAULTS))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )  # fmt: skip
    assert out.stdout.strip() == here


def test_births_come_first_and_are_valid() -> None:
    events = run(devices=20, duration_s=60)
    births = [e for e in events if e.topic is Topic.REGISTRY]
    assert events[: len(births)] == births and len(births) == 20
    for e in births:
        birth = decode(DeviceBirth, e.value)
        assert e.key == birth.device_id.encode()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    devices=st.integers(1, 40),
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_every_sample_is_valid_and_encodes_as_the_contract_does(
    seed: int, devices: int, start: datetime
) -> None:
    events = run(seed=seed, devices=devices, start=start, duration_s=120, every_device_reports=True)
    last_seq: dict[bytes, int] = {}
    for e in events:
        if e.topic is Topic.REGISTRY:
            continue
        sample = decode(Sample, e.value)
        assert encode(sample) == e.value  # the fast path writes exactly what pydantic would
        assert e.valid and e.key == sample.device_id.encode()
        assert e.timestamp_ms == int(sample.ts.timestamp() * 1000) == e.due_ms
        assert sample.seq == last_seq.get(e.key, 0) + 1  # one more per sample of the device
        last_seq[e.key] = sample.seq
    assert len(last_seq) == devices


def test_samples_come_in_time_order_with_devices_out_of_step() -> None:
    events = [e for e in run(devices=50, duration_s=300) if e.topic is Topic.TELEMETRY]
    times = [e.timestamp_ms for e in events]
    assert times == sorted(times)
    assert len(set(times)) > len(times) / 2  # phases differ: devices do not tick together


def test_ids_follow_the_contract_and_the_plant_hierarchy() -> None:
    sim = Simulation(SimulationOptions(devices=10_000, duration_s=1))
    births = sim.births()
    assert len({b.device_id for b in births}) == 10_000
    assert {b.enterprise.city for b in births} == {
        "jinan", "qingdao", "yantai", "weihai", "weifang", "zibo"
    }  # fmt: skip
    assert {b.enterprise.cloud for b in births} == {True, False}
    assert {b.kind for b in births} == {
        "cnc_machining_centre", "injection_moulding", "smt_placement", "stamping_press",
        "packaging", "assembly_station", "test_station",
    }  # fmt: skip
    for b in births[:500]:
        assert ":" not in b.device_id
        assert b.device_id.startswith(b.line_id + "-")
        assert b.line_id.startswith(b.plant_id + "-") and b.plant_id.startswith(b.enterprise.id)
    assert {b.numerically_controlled for b in births if b.key_process} == {True, False}


def oee_parts(events: Iterable[Emitted], births: list[DeviceBirth]) -> dict[str, Parts]:
    """Time in state and counter deltas per device over the whole run."""
    interval = {b.device_id: b.sample_interval_s for b in births}
    parts: dict[str, Parts] = defaultdict(lambda: defaultdict(float))
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.topic is not Topic.TELEMETRY:
            continue
        s = orjson.loads(e.value)
        device = s["device_id"]
        before = last.get(device)
        if before is not None:
            p, made = parts[device], s["count_total"] - before["count_total"]
            p[before["state"]] += interval[device]
            p["total"] += made
            p["good"] += s["count_good"] - before["count_good"]
            p["ideal"] += made * before["ideal_cycle_s"]
        last[device] = s
    return parts


def oee(parts: Iterable[Parts]) -> float:
    """OEE of devices together: their parts added, the ratio recomputed (never averaged)."""
    total: Parts = defaultdict(float)
    for p in parts:
        for name, value in p.items():
            total[name] += value
    planned = sum(total[state] for state in ("running", "idle", "setup", "down"))
    ratios = oee_ratios(
        planned, total["running"], total["ideal"], int(total["total"]), int(total["good"])
    )
    assert ratios.oee is not None
    return ratios.oee


def test_oee_over_a_day_is_realistic() -> None:
    """A single day varies (a machine may not break down at all), a line less so; the
    long-run range per device is the state machine's test."""
    sim = Simulation(
        SimulationOptions(seed=11, devices=16, duration_s=86_400, every_device_reports=True)
    )
    parts = oee_parts(sim.run(), sim.births())
    assert len(parts) == 16
    assert all(0.25 <= oee([p]) <= 0.97 for p in parts.values())
    lines: dict[tuple[str, str], list[Parts]] = defaultdict(list)
    for spec in sim.devices:
        lines[spec.birth.line_id, spec.tier].append(parts[spec.birth.device_id])
    for (_, tier), line in lines.items():
        assert (0.80 < oee(line) < 0.92) if tier == "best" else (0.40 < oee(line) < 0.85)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_registry_export_holds_every_birth(fmt: str) -> None:
    import yaml

    from simulators import registry_export

    sim = Simulation(SimulationOptions(devices=15, seed=2))
    text = registry_export(sim, fmt)  # type: ignore[arg-type]
    doc = orjson.loads(text) if fmt == "json" else yaml.safe_load(text)
    enterprises = {e["id"]: e for e in doc["enterprises"]}  # each once, births name it by id
    # each plant's shift calendar once, too; its births carry it
    plants = {p["id"]: {k: v for k, v in p.items() if k != "id"} for p in doc.get("plants", [])}
    births = [{**b, "enterprise": enterprises[b["enterprise"]],
               "shift_calendar": plants.get(b["plant_id"])} for b in doc["births"]]  # fmt: skip
    assert [DeviceBirth.model_validate(b) for b in births] == sim.births()
    assert len(doc["enterprises"]) == len({b.enterprise.id for b in sim.births()})
