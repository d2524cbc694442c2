"""Fault injection: each fault appears at its rate, where the report says, and nowhere else."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import orjson
import pytest

from iiot.contract import ContractError, decode
from iiot.messages import Sample
from iiot.topics import Topic
from simulators import FAULT_TYPES, Emitted, FaultRates, Simulation, SimulationOptions

RATES = FaultRates(
    duplicate=0.02, out_of_order=0.02, late=0.02, gap=0.004, counter_reset=0.005,
    clock_skew=0.02, malformed=0.02,
)  # fmt: skip
GRACE_S, FUTURE_S = 120, 300


class Observed:
    """A faulty run, and what a consumer of its stream sees."""

    def __init__(self) -> None:
        self.sim = Simulation(
            # Every device reporting: the province's own gaps are not faults.
            SimulationOptions(
                seed=5, devices=30, duration_s=2 * 3_600, faults=RATES, every_device_reports=True
            )
        )
        self.events = [e for e in self.sim.run() if e.topic is Topic.TELEMETRY]
        self.report = self.sim.injected
        self.interval = {b.device_id: b.sample_interval_s for b in self.sim.births()}
        # Each (device_id, seq) once, with its first delivery's position; malformed ones apart.
        self.samples: dict[tuple[str, int], tuple[int, Emitted, Sample]] = {}
        self.copies: Counter[tuple[str, int]] = Counter()
        self.malformed: list[Emitted] = []
        for position, e in enumerate(self.events):
            try:
                s = decode(Sample, e.value)
            except ContractError:
                assert not e.valid
                self.malformed.append(e)
                continue
            assert e.valid
            self.copies[s.device_id, s.seq] += 1
            self.samples.setdefault((s.device_id, s.seq), (position, e, s))

    def affected(self, fault: str) -> set[tuple[str, int]]:
        return set(self.report.affected[fault])


@pytest.fixture(scope="module")
def run() -> Observed:
    return Observed()


@pytest.mark.parametrize("fault", FAULT_TYPES)
def test_each_fault_appears_at_its_rate(run: Observed, fault: str) -> None:
    samples = run.report.samples
    assert samples > 40_000
    expected = getattr(RATES, fault) * samples
    assert run.report.counts[fault] == len(run.report.affected[fault])
    assert run.report.counts[fault] == pytest.approx(expected, rel=0.2)


def test_duplicates_arrive_twice_and_nothing_else_does(run: Observed) -> None:
    twice = {key for key, n in run.copies.items() if n > 1}
    assert twice == run.affected("duplicate")
    assert max(run.copies.values()) == 2


def test_out_of_order_samples_arrive_after_the_next_one(run: Observed) -> None:
    # The following seq comes one interval later unless it was delayed itself or came after
    # a gap (an offline device uses no seqs).
    not_next = run.affected("out_of_order") | run.affected("late") | run.affected("gap")
    checked = 0
    for device, seq in run.affected("out_of_order"):
        position = run.samples[device, seq][0]
        following = run.samples.get((device, seq + 1))
        if following and (device, seq + 1) not in not_next:  # or it may be malformed
            assert following[0] < position
            checked += 1
    assert checked > 0.8 * len(run.affected("out_of_order"))


def newest_event_ms_at(run: Observed) -> list[int]:
    """The newest event time seen before each position (skewed samples are dead letters
    downstream, so they do not advance it)."""
    skewed = run.affected("clock_skew")
    newest, out = 0, []
    for e in run.events:
        out.append(newest)
        key = (e.key.decode(), int(orjson.loads(e.value)["seq"])) if e.valid else None
        if e.valid and key not in skewed:
            newest = max(newest, e.timestamp_ms)
    return out


def test_late_samples_arrive_beyond_the_grace_and_others_within(run: Observed) -> None:
    newest = newest_event_ms_at(run)
    late = run.affected("late")
    for (device, seq), (position, e, _) in run.samples.items():
        lateness_s = (newest[position] - e.timestamp_ms) / 1000
        if (device, seq) in late:
            assert lateness_s > GRACE_S
        else:
            assert lateness_s < GRACE_S


def test_skewed_samples_lie_in_the_future_and_others_do_not(run: Observed) -> None:
    skewed = run.affected("clock_skew")
    for key, (_, e, _) in run.samples.items():
        ahead_s = (e.timestamp_ms - e.due_ms) / 1000  # type: ignore[operator]
        assert (ahead_s > FUTURE_S) if key in skewed else (ahead_s == 0 or key in run.copies)


def test_malformed_payloads_are_marked_and_reported(run: Observed) -> None:
    assert len(run.malformed) == run.report.counts["malformed"]
    assert not run.affected("malformed") & set(run.samples)  # none of them decodes
    codes = Counter()
    for e in run.malformed:
        with pytest.raises(ContractError) as refused:
            decode(Sample, e.value)
        codes[refused.value.code] += 1
    assert set(codes) == {"invalid_json", "invalid_field"}  # broken JSON and wrong types


def sampled_ms(run: Observed, e: Emitted) -> int:
    """When a sample was taken: its event time, unless its clock was skewed."""
    seq = orjson.loads(e.value)["seq"]
    return e.due_ms if (e.key.decode(), seq) in run.affected("clock_skew") else e.timestamp_ms  # type: ignore[return-value]


def test_gaps_leave_the_device_silent_beyond_max_gap(run: Observed) -> None:
    for device, seq in run.affected("gap"):
        before = run.samples.get((device, seq - 1))
        after = run.samples.get((device, seq))
        if before and after:
            silent_s = (sampled_ms(run, after[1]) - sampled_ms(run, before[1])) / 1000
            assert silent_s > 3 * run.interval[device]
    assert run.report.missing_samples >= 5 * run.report.counts["gap"]


def test_counters_are_monotonic_except_at_injected_resets(run: Observed) -> None:
    by_device: dict[str, list[Sample]] = defaultdict(list)
    for (device, _), (_, _, s) in sorted(run.samples.items()):
        by_device[device].append(s)
    resets = run.affected("counter_reset")
    for samples in by_device.values():
        for before, after in itertools.pairwise(samples):
            if after.count_total < before.count_total or after.count_good < before.count_good:
                # The reset is at after's seq, or at a malformed sample just before it.
                device, seqs = after.device_id, range(before.seq + 1, after.seq + 1)
                assert any((device, seq) in resets for seq in seqs)
    visible = 0
    for device, seq in resets:  # a reset drops the counters, unless they were 0 already
        before, after = run.samples.get((device, seq - 1)), run.samples.get((device, seq))
        if before and after and before[2].count_total > 0:
            assert after[2].count_total < before[2].count_total
            visible += 1
    assert visible > len(resets) / 2


def test_faults_leave_undamaged_samples_as_they_were() -> None:
    """Faults draw from their own streams: with them on, other samples are unchanged."""
    options = {"seed": 9, "devices": 20, "duration_s": 1_800.0}
    plain = {
        e.value
        for e in Simulation(SimulationOptions(**options)).run()  # type: ignore[arg-type]
    }
    per_sample = FaultRates(duplicate=0.05, out_of_order=0.05, late=0.05, malformed=0.05)
    faulty = Simulation(SimulationOptions(**options, faults=per_sample))  # type: ignore[arg-type]
    events = list(faulty.run())
    damaged = set(faulty.injected.affected["malformed"])
    for e in events:
        if e.valid:
            assert e.value in plain
    assert len(damaged) > 10


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        FaultRates(duplicate=0.6, late=0.6)
    assert FaultRates.parse("duplicate=0.01, late=0.001") == FaultRates(duplicate=0.01, late=0.001)
    with pytest.raises(ValueError):
        FaultRates.parse("duplicates=0.1")
    assert not FaultRates().any()
