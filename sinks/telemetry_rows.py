"""A Sample's JSON straight to its telemetry row, for the samples that are plainly valid.

`iiot.wire.plain_sample` checks the contract's rules on the wire spelling without pydantic
(~1 µs against ~5 µs, most of the sink's time per row); anything it declines takes
`iiot.contract.decode` as before: the fast path only ever accepts what pydantic accepts,
with the same values (tests/unit/test_sink_telemetry_rows.py compares the two). A sample of
a batch record (iiot/wire/sample_batch.py) takes the same two paths and gives the same row.
"""

from __future__ import annotations

from typing import Any

import orjson

from iiot.wire.plain_sample import DATETIME, plain_sample
from iiot.wire.sample_batch import sample_fields, sample_of
from sinks.tables import JSONB_V1, Row, sample_row


def fast_row(value: bytes) -> Row | None:
    """The telemetry row of a Sample in its wire spelling, or None: decode it the slow way."""
    checked = plain_sample(value, DATETIME)
    if checked is None:
        return None
    device_id, seq, at, state, total, good, cycle, product, reason, metrics = checked
    metrics_jsonb = JSONB_V1 + orjson.dumps(metrics)
    return device_id, seq, at, state, total, good, cycle, product, reason, metrics_jsonb


def element_row(device_id: str, element: Any) -> Row:
    """The telemetry row of one sample of a batch record of `device_id`, the same as if it
    had come alone; `ContractError` if the sample is bad."""
    checked = sample_fields(device_id, element, DATETIME)
    if checked is None:
        return sample_row(sample_of(device_id, element))
    _, seq, at, state, total, good, cycle, product, reason, metrics = checked
    metrics_jsonb = JSONB_V1 + orjson.dumps(metrics)
    return device_id, seq, at, state, total, good, cycle, product, reason, metrics_jsonb
