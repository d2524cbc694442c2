"""A Sample's JSON straight to its telemetry row, for the samples that are plainly valid.

pydantic's strict validation of a Sample costs ~5 µs, most of the sink's time per row.
Nearly every sample arrives in the one spelling producers write (`encode`): known fields,
ints as ints, floats as floats, `ts` as `2026-11-26T08:00:05.000Z`. `fast_row` checks
exactly the contract's rules on that spelling with orjson and plain Python, ~1 µs, and
answers None for anything else — another spelling, a bad value, a doubt — which then takes
`iiot.contract.decode` as before: the fast path only ever accepts what pydantic accepts,
with the same values (tests/unit/test_sink_telemetry_rows.py compares the two).
"""

from __future__ import annotations

import re
from datetime import datetime

import orjson

from iiot.messages import Sample
from iiot.types import ID_PATTERN, MAX_MESSAGE_BYTES, MAX_METRICS, METRIC_PATTERN, STATES
from sinks.tables import JSONB_V1, Row

_FIELDS = frozenset(Sample.model_fields)
_REQUIRED = frozenset(n for n, f in Sample.model_fields.items() if f.is_required())
_STATES = frozenset(STATES)
_ID = re.compile(ID_PATTERN)
_METRIC = re.compile(METRIC_PATTERN)
# The wire spelling `format_ts` writes: UTC, milliseconds, so `_to_utc_ms` has nothing to do.
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_CACHE_LIMIT = 100_000  # device ids and timestamps repeat: remember the checked ones

_known_ids: set[str] = set()
_known_metrics: set[str] = set()
_known_ts: dict[str, datetime] = {}


def fast_row(value: bytes) -> Row | None:
    """The telemetry row of a Sample in its wire spelling, or None: decode it the slow way."""
    if len(value) > MAX_MESSAGE_BYTES:
        return None
    try:
        m = orjson.loads(value)  # refuses NaN, Infinity and overflowing numbers itself
        return _row(m) if type(m) is dict and _FIELDS.issuperset(m) else None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # unhashable where a name belongs, a missing field, an impossible date


def _row(m: dict) -> Row | None:  # type: ignore[type-arg]
    # One pass of plain checks, cheapest and most telling first; the known-good caches turn
    # the regexes and the date parsing into one lookup for ids and times seen before.
    v = m.get("v", 1)
    device_id, state, seq = m["device_id"], m["state"], m["seq"]
    total, good = m["count_total"], m["count_good"]
    if not (type(v) is int and v == 1 and state in _STATES and type(state) is str):
        return None
    if not (type(seq) is int and type(total) is int and type(good) is int):
        return None
    if not (seq >= 0 and 0 <= good <= total):
        return None
    if device_id not in _known_ids and not _new_id(device_id):
        return None
    at = _known_ts.get(m["ts"]) or _new_time(m["ts"])
    cycle = m.get("ideal_cycle_s")
    product = m.get("product")
    metrics = m.get("metrics", {})
    if at is None or (cycle is not None and not (type(cycle) is float and 0 < cycle <= 86_400)):
        return None
    if product is not None and not (type(product) is str and 1 <= len(product) <= 200):
        return None
    if type(metrics) is not dict or len(metrics) > MAX_METRICS:
        return None
    for reading in metrics.values():
        if type(reading) is not float:  # an int becomes a float in pydantic: its way, not ours
            return None
    if not _known_metrics.issuperset(metrics) and not _new_metrics(metrics):
        return None
    return (device_id, seq, at, state, total, good, cycle, product,
            JSONB_V1 + orjson.dumps(metrics))  # fmt: skip


def _new_id(device_id: object) -> bool:
    if type(device_id) is not str or not _ID.fullmatch(device_id):
        return False
    _remember(_known_ids, device_id)
    return True


def _new_metrics(metrics: dict) -> bool:  # type: ignore[type-arg]
    if not all(_METRIC.fullmatch(name) for name in metrics):
        return False
    for name in metrics:
        _remember(_known_metrics, name)
    return True


def _new_time(ts: object) -> datetime | None:
    if type(ts) is not str or not _TS.fullmatch(ts):
        return None
    at = datetime.fromisoformat(ts)  # ValueError (month 13, …): pydantic says why
    if len(_known_ts) >= _CACHE_LIMIT:
        _known_ts.clear()
    _known_ts[ts] = at
    return at


def _remember(known: set[str], item: str) -> None:
    if len(known) >= _CACHE_LIMIT:
        known.clear()
    known.add(item)
