"""Every number the pipeline keeps fits where it goes: a uint32 counter at its wrap and an
ideal cycle of a day pass through a device's state, its changelog form, its window and the
roll-ups without overflowing 64 bits; what the database cannot hold is refused at the edge."""

from __future__ import annotations

import copy

import orjson
import pytest

from iiot.contract import ContractError, decode, encode
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Parts, Reading, device_windows, oee_window, roll_up, to_ms
from iiot.settings import DigitizationWeights
from iiot.types import MAX_INT
from iiot.wire.oee_json import oee_window_json
from iiot.wire.plain_sample import EPOCH_MS, plain_sample
from streams.device_state import DeviceConfig, DeviceState, Outcome
from streams.rollup_state import RollupState
from tests.conftest import BIRTH, SAMPLE

UINT32_TOP = 2**32 - 1
DAY_CYCLE = DeviceConfig(window_ms=60_000, max_gap_ms=15_000, grace_ms=120_000,
                         ideal_cycle_s=86_400.0)  # fmt: skip


def through_state(readings: list[Reading]) -> dict[int, Parts]:
    """Each reading accepted, the state written to its changelog form and read back."""
    state, windows = DeviceState(), {}
    for reading in readings:
        outcome, changed, final = state.accept(reading, DAY_CYCLE)
        assert outcome is Outcome.ACCEPTED
        windows |= {start: e.parts for start, e in final.items()}
        windows |= {start: state.windows[start].parts for start in changed}
        state = DeviceState.loads(state.dumps())
    return windows


def test_a_uint32_counter_starting_at_its_top_then_wrapping_is_a_reset() -> None:
    readings = [
        Reading(0, 1, "running", UINT32_TOP, UINT32_TOP, 86_400.0),
        Reading(5_000, 2, "running", 3, 3, 86_400.0),  # wrapped: a reset, 3 parts
        Reading(10_000, 3, "running", 5, 5, 86_400.0),
    ]
    windows = through_state(readings)
    assert windows[0].count_total == 5 and windows[0].counter_resets == 1
    assert windows[0].ideal_run_us == 5 * 86_400_000_000


def test_a_jump_to_the_uint32_top_at_a_day_per_part_saturates_and_is_flagged() -> None:
    # 4,294,967,295 parts × 86,400 s = 3.7e20 µs, past 64 bits: held at the bound.
    readings = [
        Reading(0, 1, "running", 0, 0, None),
        Reading(5_000, 2, "running", UINT32_TOP, UINT32_TOP, None),
        Reading(6_000, 3, "running", 0, 0, None),  # the reset back
        Reading(7_000, 4, "running", UINT32_TOP, UINT32_TOP, None),  # and up again
    ]
    windows = through_state(readings)
    parts = windows[0]
    assert parts.ideal_run_us == MAX_INT
    assert parts.count_total == parts.count_good == 2 * UINT32_TOP
    assert parts == device_windows(readings, window_ms=60_000, max_gap_ms=15_000,
                                   ideal_cycle_s=86_400.0).windows[0]  # fmt: skip
    window = oee_window("device", "press03", 0, parts)
    assert window.performance_suspect and window.ideal_run_s == MAX_INT / 1_000_000
    fast = oee_window_json("device", "press03", 0, parts, 0, 0)
    assert fast == (window.key, encode(window))


def test_counts_at_the_bound_saturate_instead_of_passing_it() -> None:
    readings = [Reading(i * 1_000, i, "running", MAX_INT * (i % 2), MAX_INT * (i % 2), 1.0)
                for i in range(6)]  # fmt: skip
    windows = through_state(readings)
    assert windows[0].count_total == windows[0].count_good == MAX_INT
    oee_window("device", "press03", 0, windows[0])  # the model takes it


def test_a_roll_up_of_saturated_windows_stays_within_the_bound() -> None:
    readings = [Reading(0, 1, "running", 0, 0, None),
                Reading(5_000, 2, "running", UINT32_TOP, UINT32_TOP, None)]  # fmt: skip
    device = through_state(readings)[0]
    line = roll_up([device] * 5)
    assert line is not None and line.ideal_run_us == MAX_INT and line.devices == 5
    assert line.count_total == 5 * UINT32_TOP
    window = oee_window("line", "l2", 0, line)
    assert window.performance_suspect
    huge = Parts(60_000, count_total=MAX_INT, count_good=MAX_INT, ideal_run_us=MAX_INT)
    assert roll_up([huge, huge, huge]) == roll_up([huge, roll_up([huge, huge])])  # type: ignore[list-item]
    # Through the roll-up state the worker keeps, birth and all.
    rollup = RollupState(60_000, 3_600_000, DigitizationWeights())
    for n in range(3):
        birth = copy.deepcopy(BIRTH) | {"device_id": f"press0{n}"}
        rollup.on_birth(decode(DeviceBirth, orjson.dumps(birth)))
        rollup.on_device_window(f"press0{n}", 0, device, 0, 0)
    oee, _ = rollup.take_dirty()
    assert {w.level for w in oee} == {"line", "plant", "enterprise", "city", "province"}
    assert all(w.ideal_run_s == MAX_INT / 1_000_000 and w.devices == 3 for w in oee)


@pytest.mark.parametrize("field", ["seq", "count_total"])
def test_a_number_past_bigint_is_refused_at_the_edge(field: str) -> None:
    sample = copy.deepcopy(SAMPLE) | {"count_total": MAX_INT, "count_good": 0, "seq": MAX_INT}
    assert decode(Sample, orjson.dumps(sample)).seq == MAX_INT
    sample[field] = MAX_INT + 1
    with pytest.raises(ContractError, match=f"{field}: Input should be less than or equal to"):
        decode(Sample, orjson.dumps(sample))


@pytest.mark.parametrize(
    ("ts", "refused"),
    [("1969-12-31T23:59:59.999Z", True), ("1970-01-01T00:00:00.000Z", False),
     ("2199-12-31T23:59:59.999Z", False), ("2200-01-01T00:00:00.000Z", True),
     ("9999-12-31T23:59:59.999Z", True), ("1970-01-01T00:30:00.000+01:00", True)],
)  # fmt: skip
def test_a_device_time_outside_its_years_is_refused_on_both_paths(ts: str, refused: bool) -> None:
    """A ts of 9999-12-31, first in a worker's partition, passed the future guard and crashed
    the worker making its window (year 10000, in the fault matrix's bad-input campaign)."""
    value = orjson.dumps(copy.deepcopy(SAMPLE) | {"ts": ts})
    fast = plain_sample(value, EPOCH_MS)
    if refused:
        with pytest.raises(ContractError, match="ts: must lie in the years 1970–2199"):
            decode(Sample, value)
        assert fast is None
    else:
        assert fast is None or fast[2] == to_ms(decode(Sample, value).ts)
