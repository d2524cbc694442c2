"""Batch records (iiot/wire/sample_batch.py): packed and unpacked without losing a byte,
each sample read as the one-sample path reads it, and only a bad envelope refused whole."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.contract import ContractError, decode, encode
from iiot.messages import Sample, SampleBatch
from iiot.types import MAX_BATCH_BYTES, MAX_BATCH_SAMPLES
from iiot.wire.plain_sample import EPOCH_MS, plain_sample
from iiot.wire.sample_batch import is_batch, pack, sample_fields, sample_json, sample_of, unpack


def sample(seq: int, device_id: str = "press-01", **extra: object) -> bytes:
    fields = {
        "device_id": device_id,
        "ts": f"2026-11-26T08:{seq // 60 % 60:02d}:{seq % 60:02d}.250Z",
        "seq": seq,
        "state": "running",
        "count_total": 10 * seq,
        "count_good": 9 * seq,
        "ideal_cycle_s": 2.5,
        "product": "bracket",
        "metrics": {"power_kw": 3.5},
    }
    return encode(Sample.model_validate_json(orjson.dumps({**fields, **extra})))


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_each_sample_of_a_batch_reads_as_the_same_sample_alone(seqs: list[int]) -> None:
    alone = [sample(seq) for seq in seqs]
    batch = unpack(pack("press-01", alone))
    assert batch is not None and batch.device_id == "press-01"
    for element, value in zip(batch.samples, alone, strict=True):
        assert sample_json(batch.device_id, element) == value  # the same bytes back
        assert sample_fields(batch.device_id, element, EPOCH_MS) == plain_sample(value, EPOCH_MS)
        assert sample_of(batch.device_id, element) == decode(Sample, value)


def test_a_batch_is_valid_to_the_contract_and_repeats_no_shared_field() -> None:
    value = pack("press-01", [sample(1), sample(2)])
    assert is_batch(value)
    assert value.count(b"device_id") == 1 and value.count(b'"v"') == 1
    assert [s.seq for s in decode(SampleBatch, value).samples] == [1, 2]


def test_a_sample_in_another_spelling_is_packed_all_the_same() -> None:
    spelled = orjson.dumps({"device_id": "press-01", "seq": 3, "ts": "2026-11-26T08:00:03Z",
                            "state": "idle", "count_total": 1, "count_good": 1})  # fmt: skip
    batch = unpack(pack("press-01", [spelled]))
    assert batch is not None and sample_of("press-01", batch.samples[0]).seq == 3
    with pytest.raises(ValueError, match="another device"):
        pack("press-02", [spelled])


def test_a_bad_sample_is_refused_alone_with_its_reason() -> None:
    good, bad = sample(1), sample(2).replace(b'"count_good":18', b'"count_good":99')
    batch = unpack(pack("press-01", [good, bad, sample(3)]))
    assert batch is not None
    assert sample_fields("press-01", batch.samples[1], EPOCH_MS) is None
    with pytest.raises(ContractError) as refused:
        sample_of("press-01", batch.samples[1])
    assert refused.value.code == "invalid_field" and "count_good" in refused.value.reason
    assert sample_of("press-01", batch.samples[2]).seq == 3


def test_an_element_repeating_the_shared_fields_is_refused_alone() -> None:
    value = b'{"v":1,"device_id":"d1","samples":[' + sample(1, "d1") + b"]}"
    batch = unpack(value)
    assert batch is not None and sample_fields("d1", batch.samples[0], EPOCH_MS) is None
    with pytest.raises(ContractError, match="Extra inputs"):
        sample_of("d1", batch.samples[0])


@pytest.mark.parametrize(
    ("value", "code", "says"),
    [
        (b'{"v":1,"device_id":"d1","samples":[]}', "invalid_field", "samples"),
        (b'{"v":2,"device_id":"d1","samples":[{}]}', "unsupported_version", "v"),
        (b'{"device_id":"d 1","samples":[{}]}', "invalid_field", "device_id"),
        (b'{"samples":[{}]}', "invalid_field", "device_id"),
        (b'{"device_id":"d1","samples":{}}', "invalid_field", "samples"),
        (b'{"device_id":"d1","samples":[{}],"line":"x"}', "invalid_field", "line"),
        (b'{"device_id":"d1","samples":[{"seq":1', "invalid_json", "EOF"),
        (b'{"device_id":"d1","samples":[{"seq":1e400}]}', "invalid_json", "range"),
    ],
)
def test_a_bad_envelope_refuses_the_record_whole(value: bytes, code: str, says: str) -> None:
    with pytest.raises(ContractError) as refused:
        unpack(value)
    assert refused.value.code == code and says in refused.value.reason


def test_the_bounds_of_a_batch() -> None:
    many = b'{"device_id":"d1","samples":[' + b",".join([b"{}"] * (MAX_BATCH_SAMPLES + 1)) + b"]}"
    with pytest.raises(ContractError, match="at most 5000"):
        unpack(many)
    huge = b'{"device_id":"d1","samples":["' + b"x" * MAX_BATCH_BYTES + b'"]}'
    with pytest.raises(ContractError) as refused:
        unpack(huge)
    assert refused.value.code == "too_large"


@pytest.mark.parametrize(
    "value",
    [sample(1), b'[{"samples": 1}]', sample(1, product='"samples"'), b"null"],
)
def test_what_is_no_batch_is_left_to_the_sample_path(value: bytes) -> None:
    assert unpack(value) is None
