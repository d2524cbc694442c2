"""The wire form of a sample, built fast from plain values.

`iiot.contract.encode(Sample(...))` validates every field with pydantic — right at the edge,
too slow for 100,000+ samples/s. Here orjson writes the same bytes (same field order, same
float spelling) from plain values; a test checks they decode as valid Samples and re-encode
identically.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

_minute_prefix: dict[int, str] = {}


def format_ts_ms(ms: int) -> str:
    """`2026-11-26T08:00:05.000Z` for epoch milliseconds, as iiot.types.format_ts spells it."""
    minute, rest = divmod(ms, 60_000)
    prefix = _minute_prefix.get(minute)
    if prefix is None:
        if len(_minute_prefix) > 10_000:  # a long run: keep the cache small
            _minute_prefix.clear()
        prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        _minute_prefix[minute] = prefix
    seconds, millis = divmod(rest, 1000)
    return f"{prefix}{seconds:02d}.{millis:03d}Z"


def sample_fields(
    device_id: str,
    ts_ms: int,
    seq: int,
    state: str,
    count_total: int,
    count_good: int,
    ideal_cycle_s: float,
    product: str,
    metrics: dict[str, float],
) -> dict[str, object]:
    """A Sample as a dict in the model's field order."""
    return {
        "v": 1,
        "device_id": device_id,
        "ts": format_ts_ms(ts_ms),
        "seq": seq,
        "state": state,
        "count_total": count_total,
        "count_good": count_good,
        "ideal_cycle_s": ideal_cycle_s,
        "product": product,
        "metrics": metrics,
    }


def encode_fields(fields: dict[str, object]) -> bytes:
    return orjson.dumps(fields)


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
