"""A Sample's JSON straight to its telemetry row, for the samples that are plainly valid.

`iiot.wire.plain_sample` checks the contract's rules on the wire spelling without pydantic
(~1 µs against ~5 µs, most of the sink's time per row); anything it declines takes
`iiot.contract.decode` as before: the fast path only ever accepts what pydantic accepts,
with the same values (tests/unit/test_sink_telemetry_rows.py compares the two).
"""

from __future__ import annotations

import orjson

from iiot.wire.plain_sample import DATETIME, plain_sample
from sinks.tables import JSONB_V1, Row


def fast_row(value: bytes) -> Row | None:
    """The telemetry row of a Sample in its wire spelling, or None: decode it the slow way."""
    checked = plain_sample(value, DATETIME)
    if checked is None:
        return None
    device_id, seq, at, state, total, good, cycle, product, metrics = checked
    return device_id, seq, at, state, total, good, cycle, product, JSONB_V1 + orjson.dumps(metrics)
