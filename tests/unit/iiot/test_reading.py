"""`Reading`: a Sample whose seq may be absent, what an integrator hands the Publisher."""

from __future__ import annotations

import orjson
import pytest

from iiot.contract import ContractError, decode, encode
from iiot.messages import Reading, Sample

READING = {"v": 1, "device_id": "qd-haier-p1-l2-press03", "ts": "2026-11-26T08:00:05+08:00",
           "state": "running", "count_total": 5321, "count_good": 5290, "ideal_cycle_s": 12.5,
           "metrics": {"power_kw": 6.8}}  # fmt: skip


def test_a_reading_without_seq_is_valid_and_numbered_becomes_the_sample() -> None:
    reading = decode(Reading, orjson.dumps(READING))
    assert reading.seq is None
    sample = reading.numbered(1042)
    assert type(sample) is Sample
    expected = decode(Sample, orjson.dumps({**READING, "seq": 1042}))
    assert sample == expected
    assert encode(sample) == encode(expected)  # the same bytes on the wire
    assert sample.model_fields_set == expected.model_fields_set


def test_a_reading_with_seq_keeps_it_and_a_sample_is_a_reading() -> None:
    reading = decode(Reading, orjson.dumps({**READING, "seq": 7}))
    assert reading.seq == 7
    assert isinstance(reading.numbered(7), Reading)


def test_a_reading_breaks_the_contract_as_a_sample_would() -> None:
    with pytest.raises(ContractError) as refused:
        decode(Reading, orjson.dumps({**READING, "count_good": 9999, "seq": "5"}))
    assert refused.value.reason == (
        "seq: Input should be a valid integer (got '5'); "
        "count_good: must not exceed count_total (5321) (got 9999)"
    )
