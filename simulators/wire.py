"""The wire form of a sample, built fast from plain values.

`iiot.contract.encode(Sample(...))` validates every field with pydantic — right at the edge,
too slow for 100,000+ samples/s. Here orjson writes the same bytes (same field order, same
float spelling) from plain values; a test checks they decode as valid Samples and re-encode
identically.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

MILLIS = [f".{ms:03d}Z" for ms in range(1000)]
_second_prefix: dict[int, str] = {}


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
