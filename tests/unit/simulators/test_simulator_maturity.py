"""The province's digitization maturity: laggards to leaders, unconnected devices, gaps."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import orjson
import pytest

from iiot.recording import Recorded
from iiot.settings import Settings
from iiot.topics import Topic
from simulators import Simulation, SimulationOptions, maturity
from simulators.catalogue import ENTERPRISES
from simulators.province import DeviceSpec, build_province
from streams.offline import compute

DAY_S = 86_400


def test_levels_range_from_laggard_to_leader_in_any_few_enterprises() -> None:
    for seed in range(20):
        levels = maturity.levels(len(ENTERPRISES), seed)
        assert levels == maturity.levels(len(ENTERPRISES), seed)  # deterministic
        assert all(0.05 <= level <= 0.95 for level in levels)
        for few in (5, 9, 13):  # the enterprises of a small province: a spread already
            first = sorted(levels[:few])
            assert first[0] < 0.3 and first[-1] > 0.7
            assert max(b - a for a, b in itertools.pairwise(first)) < 0.35
    assert maturity.levels(13, 0) != maturity.levels(13, 1)  # the seed picks them


def test_what_a_level_decides_by_hand() -> None:
    assert maturity.connected_share(0.0) == 0.25 and maturity.connected_share(1.0) == 1.0
    assert maturity.connected_share(0.5) == 0.625
    assert maturity.silent_share(0.6) == pytest.approx(0.1)
    assert maturity.cloud(0.5) and not maturity.cloud(0.49)
    assert maturity.level_on(0.5, 30) == pytest.approx(0.56)
    assert maturity.level_on(0.95, 100) == 1.0
    # Level 0.5: 62.5 % connected. A draw of 0.7 needs level (0.7 - 0.25) / 0.75 = 0.6,
    # reached after 0.1 / 0.002 = 50 days; a draw of 0.99 after ceil(243.3) days.
    assert maturity.connect_day(0.5, 0.6) == 0
    assert maturity.connect_day(0.5, 0.7) == 50
    assert maturity.connect_day(0.5, 0.99) == 244
    # Level 0.6: silent 10 % of the time, gaps of 20 min on average, so 3 h of reporting
    # between them; draws at the exponential's 1 and 0.5 quantiles give the mean and half.
    after_s, length_s = maturity.next_gap(0.6, 1 - math.exp(-1), 1 - math.exp(-0.5), 25)
    assert after_s == pytest.approx(10_800) and length_s == pytest.approx(600)
    assert maturity.next_gap(0.6, 0.5, 0.0, 25)[1] == 25  # never within max_gap
    assert maturity.next_gap(1.0, 0.5, 0.5, 25)[0] == math.inf  # a leader at the top: none


def by_enterprise(devices: list[DeviceSpec]) -> dict[str, list[DeviceSpec]]:
    out: dict[str, list[DeviceSpec]] = defaultdict(list)
    for spec in devices:
        out[spec.birth.enterprise.id].append(spec)
    return out


def test_the_province_goes_from_laggards_to_leaders() -> None:
    province = build_province(10_000, seed=0)
    assert province == build_province(10_000, seed=0)
    for specs in by_enterprise(province).values():
        level = specs[0].level
        connected = sum(s.connect_day == 0 for s in specs) / len(specs)
        assert connected == pytest.approx(maturity.connected_share(level), abs=0.01)
        assert {s.birth.enterprise.cloud for s in specs} == {maturity.cloud(level)}
        # Presses and test stations are NC by the level; CNC, moulding and SMT always are.
        optional = [s for s in specs if s.kind.key_process and not s.kind.always_nc]
        nc = sum(s.birth.numerically_controlled for s in optional) / len(optional)
        assert nc == pytest.approx(maturity.nc_share(level), abs=0.15)  # ~100 draws each
    # Every device connects within a level's rise from 0.05 to 1, a day at a time.
    assert max(s.connect_day for s in province) <= math.ceil(0.95 / maturity.PROGRESS_PER_DAY)
    connected_by = [sum(s.connect_day <= day for s in province) for day in (0, 30, 90)]
    assert connected_by == sorted(connected_by) and connected_by[0] < connected_by[2]


def one_device(devices: int, index: int, **options: object) -> list[Recorded]:
    """The records of the `index`-th device of a province of `devices` (its own shard)."""
    sim = Simulation(
        SimulationOptions(devices=devices, shards=devices, shard=index, **options)  # type: ignore[arg-type]
    )
    return [Recorded(e.topic.value, e.key, e.value, e.timestamp_ms) for e in sim.run()]


def test_unconnected_devices_send_their_birth_and_no_sample() -> None:
    sim = Simulation(SimulationOptions(devices=60, duration_s=3_600))
    events = list(sim.run())
    births = {e.key.decode() for e in events if e.topic is Topic.REGISTRY}
    reporting = {e.key.decode() for e in events if e.topic is Topic.TELEMETRY}
    assert births == {s.birth.device_id for s in sim.devices}
    assert reporting == {s.birth.device_id for s in sim.devices if s.connect_day == 0}
    assert 0 < len(reporting) < len(births)
    everyone = Simulation(SimulationOptions(devices=60, duration_s=600, every_device_reports=True))
    assert {e.key.decode() for e in everyone.run() if e.topic is Topic.TELEMETRY} == births


def test_a_device_reports_from_its_connect_day_on() -> None:
    province = build_province(300, seed=0)
    index, spec = next((i, s) for i, s in enumerate(province) if 1 <= s.connect_day <= 3)
    options = SimulationOptions(devices=300, duration_s=(spec.connect_day + 0.1) * DAY_S)
    records = one_device(300, index, duration_s=options.duration_s)
    samples = [r for r in records if r.topic == Topic.TELEMETRY.value]
    assert samples and samples[0].timestamp_ms >= options.start_ms + spec.connect_day * DAY_S * 1000


def test_reporting_gaps_are_unknown_time_in_the_device_windows() -> None:
    province = build_province(100, seed=0)
    index, spec = min(
        ((i, s) for i, s in enumerate(province) if s.connect_day == 0), key=lambda p: p[1].level
    )
    assert maturity.silent_share(spec.level) > 0.2  # a laggard: gaps every hour or so
    records = one_device(100, index, duration_s=6 * 3_600)
    samples = [orjson.loads(r.value) for r in records if r.topic == Topic.TELEMETRY.value]
    assert [s["seq"] for s in samples] == list(range(1, len(samples) + 1))  # no seq skipped
    times = [r.timestamp_ms / 1000 for r in records if r.topic == Topic.TELEMETRY.value]
    max_gap = 3 * spec.kind.sample_interval_s
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert sum(step > max_gap for step in steps) >= 2  # silent stretches
    # The stream's device windows: what no sample covers (a gap beyond max_gap) is unknown.
    # Alone in its partition, the device's return would look like a clock jump (docs/kpi.md):
    # a tolerance beyond its gaps keeps the first samples back.
    settings = Settings(topic_prefix="maturity.", future_tolerance_s=DAY_S)
    rows = compute(records, settings).rows()
    windows = [r for r in rows if r["table"] == "oee" and r["level"] == "device"]
    covered = sum(min(step, max_gap) for step in steps) + max_gap
    window_s = len(windows) * 60  # contiguous 1-min windows, gaps' windows too
    first_start = times[0] - times[0] % 60
    expected_unknown = window_s - covered
    assert times[-1] + max_gap <= first_start + window_s
    assert sum(w["unknown_s"] for w in windows) == pytest.approx(expected_unknown)
