"""The wire form of a sample, built fast from plain values.

`iiot.contract.encode(Sample(...))` validates every field with pydantic — right at the edge,
too slow for 100,000+ samples/s. Here a sample's JSON is put together from text written
once (per device, product and reason, second, millisecond; process values from
simulators/process.py)
with orjson's spelling of every value, so the bytes are those orjson — and pydantic — write
for the same sample (same field order, same float spelling); a test checks they decode as
valid Samples and re-encode identically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Final

import orjson

from simulators.machine import REASONS

MILLIS: Final = [f".{ms:03d}Z" for ms in range(1000)]
MILLIS_SEQ: Final = [f'{millis}","seq":' for millis in MILLIS]  # what follows a second in a sample
_second_prefix: dict[int, str] = {}


def text(value: object) -> str:
    """A value as orjson writes it."""
    return orjson.dumps(value).decode()


def sample_head(device_id: str) -> str:
    """A sample's JSON up to its time: `{"v":1,"device_id":"…","ts":"`."""
    return f'{{"v":1,"device_id":{text(device_id)},"ts":"'


def product_text(ideal_cycle_s: float, product: str, reason: str | None) -> str:
    """A sample's JSON from after its counters up to its metrics."""
    return (
        f',"ideal_cycle_s":{text(ideal_cycle_s)},"product":{text(product)},'
        f'"reason":{text(reason)},"metrics":'
    )


@cache
def product_texts(ideal_cycle_s: float, product: str) -> tuple[str, ...]:
    """`product_text` with each of the machine's REASONS, by its index (`Machine.reason`);
    shared by every device making the product."""
    return tuple(product_text(ideal_cycle_s, product, reason) for reason in REASONS)


def second_prefix(second: int) -> str:
    """`2026-11-26T08:00:05` for an epoch second (cached: a run visits each second often)."""
    prefix = _second_prefix.get(second)
    if prefix is None:
        if len(_second_prefix) > 100_000:  # a long run: keep the cache small
            _second_prefix.clear()
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix[second] = prefix
    return prefix


def format_ts_ms(ms: int) -> str:
    """`2026-11-26T08:00:05.000Z` for epoch milliseconds, as iiot.types.format_ts spells it."""
    second, millis = divmod(ms, 1000)
    return second_prefix(second) + MILLIS[millis]


def malformed(fields: dict[str, object], variant: int) -> bytes:
    """A broken payload of a sample, one of four kinds of damage a real device sends."""
    if variant == 0:  # cut off mid-message (a truncated frame): invalid JSON
        whole = orjson.dumps(fields)
        return whole[: len(whole) // 2]
    if variant == 1:  # a counter as a string: wrong type
        return orjson.dumps({**fields, "count_total": str(fields["count_total"])})
    if variant == 2:  # the time as epoch seconds instead of ISO 8601: wrong type
        return orjson.dumps({**fields, "ts": 1_764_144_005.0})
    return b"\x00\xff not json at all"  # line noise
