"""Batch records: consecutive samples of one device in one `iiot.telemetry` record.

A record costs the stream worker a fixed ~60 µs in Faust whatever it carries, so devices and
gateways that have many samples waiting (a drained spool, a replay, `--speed max`, a
Sparkplug DDATA) send them as one record:

    {"v":1,"device_id":"press-01","samples":[{"ts":"2026-11-26T08:00:05.000Z","seq":17,
     "state":"running","count_total":5321,"count_good":5300,"metrics":{"power_kw":3.2}},…]}

keyed by `device_id`. Each element is a `Sample` without `v` and `device_id` (given once;
an element that repeats them is refused like any unknown field), in the order the device
made them. A reader takes the samples one by one, in the record's order, exactly as if each
were its own record: each is checked, deduplicated and, if bad, dead-lettered on its own
(`DeadLetter.sample_index` says which), so one bad sample never loses its neighbours. Only a
record whose envelope is wrong (not JSON, no `device_id`, `samples` not a list of 1–5,000,
over 512 KiB) is refused whole.

A record is a batch when its value is a JSON object with a `samples` field; anything else is
read as one `Sample`, as before. `is_batch` is the cheap test a reader asks first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
import pydantic_core
from pydantic import Field

from iiot.contract import ContractError, decode
from iiot.messages import BatchedSample, Sample, SampleBatch
from iiot.types import ID_PATTERN, MAX_BATCH_BYTES, MAX_BATCH_SAMPLES
from iiot.wire.plain_sample import Fields, T, Times, plain_fields


class _Envelope(SampleBatch):
    """A batch's envelope checked by the contract, each sample left for later."""

    samples: list[Any] = Field(min_length=1, max_length=MAX_BATCH_SAMPLES)


_ELEMENT_FIELDS = frozenset(BatchedSample.model_fields)
_ENVELOPE_FIELDS = frozenset(SampleBatch.model_fields)
_ID = re.compile(ID_PATTERN)


class Batch(NamedTuple):
    """A batch record's device and its samples, each as parsed (a dict if well formed)."""

    device_id: str
    samples: list[Any]


def is_batch(value: bytes | None) -> bool:
    """Might `value` be a batch record? False for every Sample (which has no `samples` field
    to be a batch); True may still be a Sample with the word in a string: `unpack` says."""
    return value is not None and b'"samples"' in value


def pack(device_id: str, samples: Sequence[bytes]) -> bytes:
    """A batch record of `samples`, each a Sample of `device_id` in its wire form (as
    `iiot.contract.encode` or simulators/wire.py write it), in the order given."""
    head = b'{"v":1,"device_id":' + orjson.dumps(device_id) + b","
    cut = len(head) - 1  # keeps the `,` to overwrite with the element's `{`
    elements = []
    for sample in samples:
        if sample.startswith(head):  # the usual spelling: cut the shared fields off as bytes
            elements.append(b"{" + sample[cut + 1 :])
            continue
        fields = orjson.loads(sample)
        if fields.pop("device_id", device_id) != device_id:
            raise ValueError(f"a sample of another device in a batch of {device_id!r}")
        fields.pop("v", None)
        elements.append(orjson.dumps(fields))
    return head + b'"samples":[' + b",".join(elements) + b"]}"


def unpack(value: bytes) -> Batch | None:
    """The device and samples of a batch record; None if `value` is no batch (read it as
    one Sample). Raises `ContractError` when the envelope is wrong: the record is refused
    whole, with the same codes and reasons as `iiot.contract.decode` gives."""
    if len(value) > MAX_BATCH_BYTES:
        raise ContractError(
            "too_large", f"batch record is {len(value)} bytes, the limit is {MAX_BATCH_BYTES}"
        )
    try:
        m = orjson.loads(value)  # an integer past 64 bits becomes a float: that sample's fault
    except orjson.JSONDecodeError:
        raise ContractError("invalid_json", _json_reason(value)) from None
    if type(m) is not dict or "samples" not in m:
        return None
    device_id, samples = m.get("device_id"), m.get("samples")
    if (
        not _ENVELOPE_FIELDS.issuperset(m)
        or type(m.get("v", 1)) is not int
        or m.get("v", 1) != 1
        or type(device_id) is not str
        or not _ID.fullmatch(device_id)
        or type(samples) is not list
        or not 1 <= len(samples) <= MAX_BATCH_SAMPLES
    ):
        # The envelope alone, for pydantic to say why: its samples are not its fault.
        if type(samples) is list:
            m = {**m, "samples": [0] * min(len(samples), MAX_BATCH_SAMPLES + 1)}
        decode(_Envelope, _dumps(m))  # raises, with the whole-record code and reason
        raise ContractError("invalid_field", "samples: not a batch record")  # not reached
    return Batch(device_id, samples)


def sample_fields(device_id: str, element: Any, times: Times[T]) -> Fields[T] | None:
    """A plainly valid element's fields, as `plain_sample` gives them for a Sample; None for
    anything else: `sample_of` then accepts it or says why not."""
    if type(element) is not dict or not _ELEMENT_FIELDS.issuperset(element):
        return None
    return plain_fields(element, device_id, times)


def sample_of(device_id: str, element: Any) -> Sample:
    """The element as a `Sample`, validated by the contract; `ContractError` if it is bad."""
    if type(element) is dict and not _ELEMENT_FIELDS.issuperset(element):
        decode(BatchedSample, _dumps(element))  # raises: `v` or `device_id` given again, …
    return decode(Sample, sample_json(device_id, element))


def sample_json(device_id: str, element: Any) -> bytes:
    """The element as a Sample record's value of its own: `v` and `device_id` put back in
    front (what a dead letter keeps of a refused sample, and what the sink lands)."""
    if type(element) is not dict:
        return _dumps(element)  # not an object: the contract will say so
    return _dumps({"v": 1, "device_id": device_id, **element})


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)  # of what orjson read: always writable


def _json_reason(value: bytes) -> str:
    """Why orjson refused `value`, in the words `iiot.contract.decode` uses."""
    try:
        pydantic_core.from_json(value)
    except ValueError as exc:
        return f"message: Invalid JSON: {exc}"
    return "message: Invalid JSON: a number out of range (or NaN, Infinity)"
