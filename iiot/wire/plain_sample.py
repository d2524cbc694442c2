"""A Sample's JSON checked without pydantic, for the samples that are plainly valid.

pydantic's strict validation of a Sample costs ~5 µs, the biggest part of a sink row or a
stream worker's sample. Nearly every sample arrives in the one spelling producers write
(`encode`): known fields, ints as ints, floats as floats, `ts` as `2026-11-26T08:00:05.000Z`.
`plain_sample` checks exactly the contract's rules on that spelling with orjson and plain
Python, ~1 µs, and answers None for anything else — another spelling, a bad value, a doubt —
which then takes `iiot.contract.decode` as before, so dead letters keep their reasons. It
only ever accepts what pydantic accepts, with the same values: tests/unit/
test_sink_telemetry_rows.py and test_stream_ingest.py compare the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

import orjson

from iiot.messages import Sample
from iiot.oee import to_ms
from iiot.types import (
    END_YEAR,
    FIRST_YEAR,
    ID_PATTERN,
    MAX_INT,
    MAX_MESSAGE_BYTES,
    MAX_METRICS,
    METRIC_PATTERN,
    STATES,
    State,
)

T = TypeVar("T")
_FIELDS = frozenset(Sample.model_fields)
# A state as its State; any other value, string or not, is no key (unhashable: TypeError).
_STATES: dict[str, State] = {state: state for state in STATES}
_ID = re.compile(ID_PATTERN)
_METRIC = re.compile(METRIC_PATTERN)
# The wire spelling `format_ts` writes: UTC, milliseconds, so `_to_utc_ms` has nothing to do.
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_FIRST, _END = f"{FIRST_YEAR:04d}", f"{END_YEAR:04d}"
_CACHE_LIMIT = 100_000  # device ids and timestamps repeat: remember the checked ones
# Seconds of event time in flight at once span minutes (grace, skew), replays run in order:
# over an hour of them is plenty, and a day of seconds no longer piles up (~12 MB/day).
_SECONDS_LIMIT = 4_096

_known_ids: set[str] = set()
# Names checked against METRIC_PATTERN: metric names, and reason codes (spelt alike).
_known_metrics: set[str] = set()
_known_ts: dict[str, datetime] = {}
# `2026-11-26T08:00:05` → its epoch ms: samples of many devices rarely share a millisecond,
# but they share seconds.
_known_seconds: dict[str, int] = {}


class Times(NamedTuple, Generic[T]):
    """How `plain_sample` reads `ts`: the times known (checked before), and a function for
    the others that gives None for anything but the wire spelling."""

    known: dict[str, T]
    new: Callable[[object], T | None]


# What `plain_sample` gives: the sample's fields in the order of a telemetry row, the
# metrics as a dict and `ts` as the `Times` read it.
Fields = tuple[str, int, T, State, int, int, float | None, str | None, str | None, dict[str, float]]


def plain_sample(value: bytes, times: Times[T]) -> Fields[T] | None:
    """(device_id, seq, ts, state, count_total, count_good, ideal_cycle_s, product, reason,
    metrics) of a Sample in its wire spelling, absent fields as pydantic's defaults, or None:
    decode it the slow way."""
    if len(value) > MAX_MESSAGE_BYTES:
        return None
    # One pass of plain checks, cheapest and most telling first; the known-good caches turn
    # the regexes and the date parsing into one lookup for ids and times seen before. The
    # field checks are one function, shared with batch records (a call costs ~0.3 µs).
    try:
        m = orjson.loads(value)  # refuses NaN, Infinity and overflowing numbers itself
        if type(m) is not dict or not _FIELDS.issuperset(m):
            return None
        v = m.get("v", 1)
        if not (type(v) is int and v == 1):
            return None
        return plain_fields(m, m["device_id"], times)
    except (orjson.JSONDecodeError, KeyError):
        return None


def plain_fields(m: dict, device_id: object, times: Times[T]) -> Fields[T] | None:  # type: ignore[type-arg]
    """`plain_sample`'s checks of a parsed sample's fields but `v`, with its device given
    apart (a batch record gives it once: iiot/wire/sample_batch.py)."""
    try:
        state, seq = _STATES.get(m["state"]), m["seq"]
        total, good = m["count_total"], m["count_good"]
        if state is None:
            return None
        if not (type(seq) is int and type(total) is int and type(good) is int):
            return None
        if not (0 <= seq <= MAX_INT and 0 <= good <= total <= MAX_INT):
            return None
        if device_id not in _known_ids and not _new_id(device_id):
            return None
        known, new = times
        at = known.get(m["ts"]) or new(m["ts"])
        cycle = m.get("ideal_cycle_s")
        product = m.get("product")
        reason = m.get("reason")
        metrics = m.get("metrics", {})
        if at is None or (cycle is not None and not (type(cycle) is float and 0 < cycle <= 86_400)):
            return None
        if product is not None and not (type(product) is str and 1 <= len(product) <= 200):
            return None
        if reason is not None and reason not in _known_metrics and not _new_reason(reason):
            return None
        if type(metrics) is not dict or len(metrics) > MAX_METRICS:
            return None
        for reading in metrics.values():
            if type(reading) is not float:  # an int is a float to pydantic: its way, not ours
                return None
        if not _known_metrics.issuperset(metrics) and not _new_metrics(metrics):
            return None
    except (KeyError, TypeError, ValueError):
        return None  # unhashable where a name belongs, a missing field, an impossible date
    return device_id, seq, at, state, total, good, cycle, product, reason, metrics  # type: ignore[return-value]


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


def _new_reason(reason: object) -> bool:
    if type(reason) is not str or not _METRIC.fullmatch(reason):
        return False
    _remember(_known_metrics, reason)
    return True


def _new_datetime(ts: object) -> datetime | None:
    if type(ts) is not str or not _TS.fullmatch(ts) or not _FIRST <= ts[:4] < _END:
        return None  # outside the years a device time may have: pydantic says why
    at = datetime.fromisoformat(ts)  # ValueError (month 13, …): pydantic says why
    if len(_known_ts) >= _CACHE_LIMIT:
        _known_ts.clear()
    _known_ts[ts] = at
    return at


def _epoch_ms(ts: object) -> int | None:
    if type(ts) is not str or len(ts) != 24 or ts[19] != "." or ts[23] != "Z":
        return None
    second = _known_seconds.get(ts[:19])
    if second is None:
        at = _new_datetime(ts)
        if at is None:
            return None
        if len(_known_seconds) >= _SECONDS_LIMIT:
            _known_seconds.clear()  # cheaper than keeping an order; refilled in a second
        second = _known_seconds[ts[:19]] = to_ms(at.replace(microsecond=0))
    millis = ts[20:23]
    if not (millis.isascii() and millis.isdigit()):
        return None
    return second + int(millis)


# `ts` as pydantic reads it (a datetime, each checked time remembered), for the sink's rows.
DATETIME = Times(_known_ts, _new_datetime)
# `ts` in epoch ms, as `iiot.oee.to_ms` gives it of pydantic's datetime, for the stream
# worker: no datetime made per sample, and only seconds remembered.
EPOCH_MS = Times[int]({}, _epoch_ms)


def _remember(known: set[str], item: str) -> None:
    if len(known) >= _CACHE_LIMIT:
        known.clear()
    known.add(item)
