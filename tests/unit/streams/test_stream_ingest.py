"""The stream worker's fast path for samples: it accepts only what `read_sample` accepts
(contract and key), with the same device and reading; anything else is left to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.contract import ContractError, decode, encode
from iiot.messages import Sample
from iiot.oee import Reading
from streams.ingest import Source, fast_reading, read_sample, sample_reading
from tests.conftest import SAMPLE
from tests.unit.sinks.test_sink_telemetry_rows import FIELDS, JSON_VALUES, ODD, raw

DEVICE = SAMPLE["device_id"]
KEYS = [DEVICE.encode(), DEVICE.encode(), b"cnc-001", b"", None, DEVICE.encode("utf-16")]


def slow_reading(key: bytes | None, value: bytes) -> tuple[str, Reading] | None:
    """What the worker made of a sample before the fast path, None if refused."""
    source = Source("iiot.telemetry", 0, 0, key, value, None)
    try:
        sample = read_sample(source)
    except ContractError:
        return None
    return sample.device_id, Reading.of(sample)


def assert_same_or_declined(key: bytes | None, value: bytes) -> tuple[str, Reading] | None:
    fast = fast_reading(key, value)
    if fast is not None:
        assert fast == slow_reading(key, value)
        assert type(fast[1].ideal_cycle_s) is type(slow_reading(key, value)[1].ideal_cycle_s)  # type: ignore[index]
    return fast


def test_the_wire_spelling_takes_the_fast_path() -> None:
    value = encode(decode(Sample, raw(SAMPLE)))
    key = DEVICE.encode()
    assert assert_same_or_declined(key, value) is not None
    assert sample_reading(DEVICE, value) == slow_reading(key, value)


@pytest.mark.parametrize("key", KEYS)
def test_a_key_that_is_not_the_device_is_left_to_read_sample(key: bytes | None) -> None:
    value = raw(SAMPLE)
    if key != DEVICE.encode():
        assert fast_reading(key, value) is None
    else:
        assert assert_same_or_declined(key, value) is not None


@pytest.mark.parametrize(("field", "value"), ODD, ids=[f"{f}={v!r:.30}" for f, v in ODD])
def test_every_odd_value_is_declined_or_read_as_pydantic_reads_it(field: str, value: Any) -> None:
    sample = copy.deepcopy(SAMPLE)
    sample[field] = value
    assert_same_or_declined(DEVICE.encode(), raw(sample))


@pytest.mark.parametrize(
    "ts",
    ["2026-11-26T08:00:05.999Z", "2026-11-26T08:00:05.1a3Z", "2026-11-26T08:00:05.١٢٣Z",
     "2026-11-26T08:00:05.-12Z", "2026-11-26T08:00:05+123Z", "2026-02-29T08:00:05.000Z",
     "2028-02-29T08:00:05.000Z", "1969-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z"],
)  # fmt: skip
def test_times_that_share_a_checked_second_are_read_as_pydantic_reads_them(ts: str) -> None:
    sample = copy.deepcopy(SAMPLE) | {"ts": "2026-11-26T08:00:05.000Z"}
    assert_same_or_declined(DEVICE.encode(), raw(sample))  # its second now known
    assert_same_or_declined(DEVICE.encode(), raw(sample | {"ts": ts}))


@settings(max_examples=400, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=3),
       dropped=st.sets(st.sampled_from(FIELDS), max_size=2),
       key=st.sampled_from(KEYS))  # fmt: skip
def test_any_changed_sample_is_declined_or_read_as_pydantic_reads_it(
    changes: dict[str, Any], dropped: set[str], key: bytes | None
) -> None:
    sample = {k: v for k, v in copy.deepcopy(SAMPLE).items() if k not in dropped} | changes
    assert_same_or_declined(key, raw(sample))
    if key == DEVICE.encode() and slow_reading(key, raw(sample)) is not None:
        assert sample_reading(DEVICE, raw(sample)) == slow_reading(key, raw(sample))
