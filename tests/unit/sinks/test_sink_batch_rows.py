"""A sample of a batch record becomes the row it would be alone, or is refused as alone."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.contract import ContractError, decode
from iiot.messages import Sample
from iiot.topics import Topic
from sinks.flusher import letter_of
from sinks.tables import Origin, Row, SampleOrigin
from sinks.telemetry_rows import element_row
from tests.conftest import SAMPLE
from tests.unit.sinks.test_sink_telemetry_rows import (
    JSON_VALUES,
    ODD,
    Received,
    raw,
    slow_row,
)

DEVICE = SAMPLE["device_id"]
SHARED = ("v", "device_id")  # given once by the batch, not by its samples


def alone_and_in_a_batch(sample: dict[str, Any]) -> tuple[Row | None, Row | None]:
    """The row of the sample alone (None if refused) and of it as a batch's element."""
    element = {k: v for k, v in sample.items() if k not in SHARED}
    try:
        batched = element_row(DEVICE, orjson.loads(raw(element)))
    except ContractError:
        batched = None
    return slow_row(raw({"v": 1, "device_id": DEVICE, **element})), batched


def test_the_wire_spelling_gives_the_same_row() -> None:
    alone, batched = alone_and_in_a_batch(copy.deepcopy(SAMPLE))
    assert alone is not None and batched == alone


BATCH_ODD = [(field, value) for field, value in ODD if field not in SHARED]


@pytest.mark.parametrize(
    ("field", "value"), BATCH_ODD, ids=[f"{f}={v!r:.30}" for f, v in BATCH_ODD]
)
def test_every_odd_value_gives_the_same_row_or_the_same_refusal(field: str, value: Any) -> None:
    alone, batched = alone_and_in_a_batch(copy.deepcopy(SAMPLE) | {field: value})
    assert batched == alone


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from([*Sample.model_fields, "extra"]), JSON_VALUES,
                               max_size=3))  # fmt: skip
def test_any_changed_sample_gives_the_same_row_or_the_same_refusal(changes: dict[str, Any]) -> None:
    changes = {k: v for k, v in changes.items() if k not in SHARED}
    alone, batched = alone_and_in_a_batch(copy.deepcopy(SAMPLE) | changes)
    assert batched == alone


@pytest.mark.parametrize("repeated", SHARED)
def test_a_sample_repeating_a_shared_field_is_refused(repeated: str) -> None:
    element = {k: v for k, v in SAMPLE.items() if k not in SHARED} | {repeated: SAMPLE[repeated]}
    with pytest.raises(ContractError, match="Extra inputs"):
        element_row(DEVICE, element)


class Record(Received):
    def key(self) -> bytes:
        return DEVICE.encode()

    def value(self) -> bytes:
        return b'{"v":1,"device_id":"...","samples":[...]}'


def test_a_letter_of_a_batchs_sample_names_it_and_keeps_it_as_a_sample() -> None:
    record = Origin(Topic.TELEMETRY.value, Record())  # type: ignore[arg-type]
    element = {k: v for k, v in SAMPLE.items() if k not in SHARED}
    letter = letter_of(ContractError("sink_error", "x"), SampleOrigin(record, DEVICE, element, 3))
    assert letter.sample_index == 3 and letter.stage == "sink"
    assert decode(Sample, letter.payload or "") == decode(Sample, raw(SAMPLE))
    assert letter_of(ContractError("sink_error", "x"), record).sample_index == 0
