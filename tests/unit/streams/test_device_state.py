"""A device's stream state gives exactly the batch windows, whatever the delivery order
within the grace period, duplicates included; late samples are counted, not applied."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.contract import decode
from iiot.messages import DeviceBirth
from iiot.oee import MAX_GAP_WINDOWS, Parts, Reading, device_windows, oee_window
from iiot.settings import DigitizationWeights
from iiot.types import MAX_INT, STATES
from streams.device_state import DeviceConfig, DeviceState, Outcome
from streams.rollup_state import RollupState
from tests.conftest import BIRTH

CONFIG = DeviceConfig(window_ms=60_000, max_gap_ms=15_000, grace_ms=120_000, ideal_cycle_s=4.0)


def batch(readings: list[Reading], config: DeviceConfig = CONFIG) -> dict[int, Parts]:
    return device_windows(
        sorted(readings, key=lambda r: (r.ts_ms, r.seq)),
        window_ms=config.window_ms,
        max_gap_ms=config.max_gap_ms,
        ideal_cycle_s=config.ideal_cycle_s,
        max_gap_windows=config.max_gap_windows,
    ).windows


def stream(
    delivered: list[Reading], state: DeviceState | None = None, config: DeviceConfig = CONFIG
):
    state = state or DeviceState()
    final: dict[int, Parts] = {}
    outcomes = []
    for reading in delivered:
        outcome, changed, finished = state.accept(reading, config)
        outcomes.append(outcome)
        for start in changed:
            if start in state.windows:
                final[start] = state.windows[start].parts
        for start, emitted in finished.items():
            final[start] = emitted.parts
        state = DeviceState.loads(state.dumps())  # as if restored from the changelog
    return final, outcomes, state


# Now and then counters as PLCs have them near their top, and a day per part: sums that pass
# 64 bits unless they saturate.
MADE = st.integers(0, 3) | st.sampled_from([2**32 - 1, 2**62, MAX_INT])
CYCLES = st.sampled_from([None, None, None, 0.5, 86_400.0])


@st.composite
def device_readings(draw: st.DrawFn) -> list[Reading]:
    ts, total, good, readings = draw(st.integers(0, 10**6)), 0, 0, []
    huge = draw(st.booleans())
    for seq in range(draw(st.integers(1, 80))):
        ts += draw(st.sampled_from([0, 1_000, 5_000, 5_000, 5_000, 7_500, 30_000, 400_000]))
        if draw(st.integers(0, 30)) == 0:
            total = good = 0
        made = draw(MADE if huge else st.integers(0, 3))
        if total + made > MAX_INT:  # the contract's bound: the PLC's counter wraps
            total = good = 0
        total, good = total + made, good + draw(st.integers(0, made))
        cycle = draw(CYCLES) if huge else None
        readings.append(Reading(ts, seq, draw(st.sampled_from(STATES)), total, good, cycle))
    return readings


@given(device_readings(), st.randoms(use_true_random=False), st.sampled_from([60, 2, 0]))
@settings(max_examples=300, deadline=None)
def test_stream_equals_batch_under_reordering_and_duplicates(
    readings, rnd: random.Random, gap_windows: int
):
    # Each reading is delayed by up to half the grace period, so none is late.
    delivered = sorted(readings, key=lambda r: r.ts_ms + rnd.randint(0, CONFIG.grace_ms // 2))
    for _ in range(len(readings) // 4):  # a duplicate comes after its original
        original = rnd.randrange(len(delivered))
        delivered.insert(rnd.randint(original + 1, len(delivered)), delivered[original])
    config = dataclasses.replace(CONFIG, max_gap_windows=gap_windows)
    final, outcomes, _ = stream(delivered, config=config)
    assert final == batch(readings, config)
    assert all(max(p.row()) <= MAX_INT for p in final.values())
    assert outcomes.count(Outcome.DUPLICATE) == len(delivered) - len(readings)
    assert Outcome.LATE not in outcomes


@given(device_readings(), st.randoms(use_true_random=False), st.sampled_from([60, 2]))
@settings(max_examples=300, deadline=None)
def test_a_state_kept_in_memory_gives_the_batch_windows_and_writes_what_it_holds(
    readings, rnd: random.Random, gap_windows: int
):
    # As the worker runs: one state in memory for many samples, written after some of them;
    # what it writes as readings come is what it would write whole, and reads back equal.
    delivered = sorted(readings, key=lambda r: r.ts_ms + rnd.randint(0, CONFIG.grace_ms // 2))
    for _ in range(len(readings) // 4):
        original = rnd.randrange(len(delivered))
        delivered.insert(rnd.randint(original + 1, len(delivered)), delivered[original])
    config = dataclasses.replace(CONFIG, max_gap_windows=gap_windows)
    state, final = DeviceState(), {}
    for reading in delivered:
        _, changed, finished = state.accept(reading, config)
        final |= {start: state.windows[start].parts for start in changed if start in state.windows}
        final |= {start: emitted.parts for start, emitted in finished.items()}
        if rnd.random() < 0.5:
            written = state.dumps()
            assert written == dataclasses.replace(state, pieces=None).dumps()
            assert DeviceState.loads(written) == state
    assert final == batch(readings, config)
    assert state == stream(delivered, config=config)[2]  # and it dropped as much as soon


def test_a_state_written_in_the_form_before_version_2_still_loads() -> None:
    # What a worker finds in its changelog after an upgrade: a row per reading.
    old = (
        b'{"r":[[120000,7,"running",10,9,null],[125000,8,"planned_stop",11,10,2.5]],'
        b'"w":[[120000,3,1,[60000,1,5000,0,0,0,15000,4000000,1,1,2,0]]],'
        b'"n":125000,"u":8,"s":[10],"l":1}'
    )
    state = DeviceState.loads(old)
    assert state.readings == [
        Reading(120_000, 7, "running", 10, 9, None),
        Reading(125_000, 8, "planned_stop", 11, 10, 2.5),
    ]
    assert state.windows[120_000].revision == 3 and state.windows[120_000].late_samples == 1
    assert state.windows[120_000].parts == Parts(60_000, 1, 5_000, 0, 0, 0, 15_000, 4_000_000,
                                                 1, 1, 2, 0)  # fmt: skip
    assert (state.newest_ms, state.seen_upto, state.seen, state.late_samples) == (
        125_000,
        8,
        {10},
        1,
    )
    assert DeviceState.loads(state.dumps()) == state  # written again in version 2


def test_a_steady_device_costs_a_few_bytes_a_reading_in_the_changelog() -> None:
    readings = [Reading(t * 2_000, t, "idle", 500, 490, 2.0) for t in range(80)]
    _, _, state = stream(readings)
    assert len(state.readings) > 40 and len(state.dumps()) < 400


def test_late_sample_is_counted_not_applied() -> None:
    on_time = [Reading(t * 5_000, t, "running", t, t) for t in range(100)]
    late = Reading(200_000, 1_000, "down", 0, 0)  # 295 s behind the newest: beyond grace
    final, outcomes, state = stream([*on_time, late])
    assert outcomes[-1] is Outcome.LATE
    assert final == batch(on_time)
    assert state.late_samples == 1


def test_state_forgets_what_cannot_change() -> None:
    readings = [Reading(t * 5_000, t, "running", t, t) for t in range(2_000)]
    _, _, state = stream(readings)
    # grace 120 s + one window + max_gap of readings at 5 s: a few dozen, not 2000.
    assert len(state.readings) < 60 and len(state.windows) <= 4
    assert state.seen == set() and state.seen_upto == 1_999


# --- duplicates: remembered exactly where they matter, and in little memory ----------------


def skipping(readings: list[Reading], first_seq: int, rnd: random.Random) -> list[Reading]:
    """The same readings with seqs from `first_seq` (a producer started with `--start now`)
    that now and then skip (samples refused at the edge, or lost)."""
    seqs = itertools.accumulate(rnd.choice([1, 1, 1, 1, 1, 2, 7, 1_000]) for _ in readings)
    return [r._replace(seq=first_seq + s) for r, s in zip(readings, seqs, strict=True)]


@given(device_readings(), st.integers(0, 10**12), st.randoms(use_true_random=False))
@settings(max_examples=300, deadline=None)
def test_resent_samples_change_no_window_and_the_memory_stays_small(
    readings, first_seq: int, rnd: random.Random
) -> None:
    readings = skipping(readings, first_seq, rnd)
    # Most within half the grace period; now and then one far beyond it: late.
    delays = [rnd.choice([0, 0, 1_000, CONFIG.grace_ms // 2, 10 * CONFIG.grace_ms])
              for _ in readings]  # fmt: skip
    delivered = [r for _, r in sorted(zip(delays, readings, strict=True),
                                      key=lambda d: d[1].ts_ms + d[0])]  # fmt: skip
    resent = [(r, False) for r in delivered]  # (reading, a re-send?)
    for _ in range(len(readings) // 2):  # re-sent soon, or long after
        original = rnd.randrange(len(resent))
        resent.insert(rnd.randint(original + 1, len(resent)), (resent[original][0], True))
    once, outcomes, _ = stream(delivered)
    again, outcomes_again, state = stream([r for r, _ in resent])
    assert again == once
    pairs = list(zip(resent, outcomes_again, strict=True))
    assert all(o is Outcome.DUPLICATE for (_, again), o in pairs if again)
    assert [o for (_, again), o in pairs if not again] == outcomes
    assert len(state.seen) <= len(state.readings) + outcomes.count(Outcome.LATE)


def test_a_device_with_skipped_seqs_keeps_few_of_them() -> None:
    # 1% of the samples refused at the edge (their seqs never come), seqs far from 0.
    readings = [Reading(t * 5_000, 10**9 + t, "running", t, t) for t in range(3_000)]
    _, outcomes, state = stream([r for r in readings if r.seq % 100 != 7])
    assert Outcome.DUPLICATE not in outcomes and Outcome.LATE not in outcomes
    assert len(state.seen) <= len(state.readings) < 60
    assert len(state.dumps()) < 3_000


def test_a_skipped_seq_that_comes_within_grace_is_applied_after_its_hole_was_given_up() -> None:
    # seq 1_000 comes last, though its time is recent: its producer's clock went back.
    readings = [Reading(t * 5_000, t, "running", t, t) for t in range(1_000)]
    stray = Reading(readings[-1].ts_ms - 10_000, 500, "down", 999, 999)
    final, outcomes, state = stream([r for r in readings if r.seq != 500] + [stray])
    assert state.seen_upto > 500  # the hole was given up long before
    assert outcomes[-1] is Outcome.ACCEPTED
    assert final == batch([r for r in readings if r.seq != 500] + [stray])
    # Sent again, it is a duplicate; a re-sent old sample too.
    _, outcomes, _ = stream([stray, readings[10], readings[-1]], state)
    assert outcomes == [Outcome.DUPLICATE] * 3


# --- a silent device's gap --------------------------------------------------------------

AT_8 = 1_764_144_000_000  # 2025-11-26T08:00:00Z
MIN = 60_000


def test_a_gap_no_interval_reaches_has_windows_of_unknown_time_in_the_stream() -> None:
    # Samples at 08:00:10 and 08:03:20, max_gap 15 s: 08:01 and 08:02 exist, all unknown.
    readings = [
        Reading(AT_8 + 10_000, 1, "running", 5, 5),
        Reading(AT_8 + 200_000, 2, "running", 9, 9),
    ]
    final, _, _ = stream(readings)
    assert sorted(final) == [AT_8, AT_8 + MIN, AT_8 + 2 * MIN, AT_8 + 3 * MIN]
    assert final == batch(readings)
    for start in (AT_8 + MIN, AT_8 + 2 * MIN):
        assert final[start] == Parts(MIN)  # nothing covered: 60 s unknown, planned 0
        w = oee_window("device", "press03", start, final[start])
        assert (w.unknown_s, w.planned_s, w.samples, w.oee, w.availability) == (
            60,
            0,
            0,
            None,
            None,
        )
    # The roll-ups carry the gap's unknown seconds, beside a device that ran all along.
    rollup = RollupState(MIN, 3_600_000, DigitizationWeights())
    for n in (1, 2):
        birth = copy.deepcopy(BIRTH) | {"device_id": f"press0{n}"}
        rollup.on_birth(decode(DeviceBirth, orjson.dumps(birth)))
    rollup.on_device_window("press01", AT_8 + MIN, final[AT_8 + MIN], 0, 0)
    rollup.on_device_window("press02", AT_8 + MIN, Parts(MIN, run_ms=MIN), 0, 0)
    line = next(w for w in rollup.rollups(AT_8 + MIN) if w.level == "line")
    assert (line.devices, line.unknown_s, line.planned_s, line.availability) == (2, 60, 60, 1.0)


def test_a_device_back_after_a_year_makes_a_bounded_number_of_windows() -> None:
    year = 365 * 24 * 3_600_000
    readings = [Reading(AT_8 + t * 5_000, t, "running", t, t) for t in range(10)]
    back = [Reading(AT_8 + year + t * 5_000, 100 + t, "running", t, t) for t in range(3)]
    state = DeviceState()
    for reading in readings:
        state.accept(reading, CONFIG)
    outcome, changed, final = state.accept(back[0], CONFIG)
    assert outcome is Outcome.ACCEPTED
    gap = [s for s in changed if AT_8 + MIN < s < back[0].ts_ms - MIN]
    assert len(gap) == MAX_GAP_WINDOWS - 1  # the hour before it came back, its own window aside
    assert len(changed) + len(final) <= MAX_GAP_WINDOWS + 3
    finals, _, _ = stream(readings + back)
    assert finals == batch(readings + back) and len(finals) <= MAX_GAP_WINDOWS + 3


def test_many_holes_are_given_up_in_halves_and_an_old_state_shrinks() -> None:
    # A producer that sends every other seq, all within a second; and a state written
    # before the bound, with 4,096 seqs remembered.
    readings = [Reading(t * 10, 2 * t, "running", t, t) for t in range(1_000)]
    _, outcomes, state = stream(readings)
    assert set(outcomes) == {Outcome.ACCEPTED} and len(state.seen) <= 64
    old = DeviceState(seen_upto=-1, seen=set(range(1, 8_193, 2)))
    old.accept(Reading(0, 9_001, "running", 0, 0), CONFIG)
    assert len(DeviceState.loads(old.dumps()).seen) <= 64
    _, outcomes, _ = stream(readings[:5] + readings[-5:], old)
    assert outcomes == [Outcome.ACCEPTED] * 10  # given up, yet recent: looked up, applied


def test_the_rollups_keep_the_newest_revision_of_a_device_window_whatever_comes_last() -> None:
    """Two sends of one device window may land out of order (the emit timer and the device
    agent send concurrently; a send held up by an outage lands late): an older revision
    arriving after a newer one changes nothing."""
    rollup = RollupState(MIN, 3_600_000, DigitizationWeights())
    rollup.on_birth(
        decode(DeviceBirth, orjson.dumps(copy.deepcopy(BIRTH) | {"device_id": "press01"}))
    )
    newer, older = Parts(MIN, run_ms=MIN, samples=60), Parts(MIN, run_ms=1_000, samples=1)
    assert rollup.on_device_window("press01", AT_8, newer, 59, 0)
    assert not rollup.on_device_window("press01", AT_8, older, 0, 0)
    assert rollup.on_device_window("press01", AT_8, newer, 59, 0)  # the same again: taken
    line = next(w for w in rollup.rollups(AT_8) if w.level == "line")
    assert line.samples == 60 and line.revision == 60
