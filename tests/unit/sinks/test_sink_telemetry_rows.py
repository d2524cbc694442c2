"""The sink's fast path for samples: it accepts only what the contract accepts, same row."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME
from hypothesis import given, settings
from hypothesis import strategies as st

from iiot.contract import ContractError, decode, encode
from iiot.messages import Sample
from iiot.topics import Topic
from iiot.types import MAX_INT, MAX_MESSAGE_BYTES, MAX_METRICS
from sinks.tables import ROUTES, Origin, Row
from sinks.telemetry_rows import fast_row
from tests.conftest import SAMPLE

FIELDS = [*Sample.model_fields, "extra"]


class Received:
    """A Kafka message as far as a row asks: where it was and when the broker took it."""

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, 1_764_144_005_000

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0


def slow_row(value: bytes) -> Row | None:
    """The row `iiot.contract.decode` and the telemetry route make, None if refused."""
    try:
        sample = decode(Sample, value)
    except ContractError:
        return None
    origin = Origin(Topic.TELEMETRY.value, Received())  # type: ignore[arg-type]
    ((_, row),) = ROUTES[Topic.TELEMETRY].rows(sample, origin)
    return row


def assert_same_or_declined(value: bytes) -> Row | None:
    fast = fast_row(value)
    if fast is not None:
        assert fast == slow_row(value)
    return fast


def raw(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def test_the_wire_spelling_takes_the_fast_path() -> None:
    value = encode(decode(Sample, raw(SAMPLE)))
    assert assert_same_or_declined(value) is not None


@pytest.mark.parametrize("reason", ["breakdown", "planned_maintenance", "r" * 64, None])
def test_a_sample_with_a_reason_takes_the_fast_path_to_the_same_row(reason: str | None) -> None:
    sample = copy.deepcopy(SAMPLE) | {"state": "down", "reason": reason}
    for value in (raw(sample), encode(decode(Sample, raw(sample)))):
        row = assert_same_or_declined(value)
        assert row is not None and row[8] == reason  # the reason column, after product


@pytest.mark.parametrize("reason", ["", "r" * 65, "Breakdown", "no material", "_x", 7])
def test_a_bad_reason_is_refused_by_both(reason: object) -> None:
    value = raw(copy.deepcopy(SAMPLE) | {"state": "down", "reason": reason})
    assert fast_row(value) is None and slow_row(value) is None


def test_optional_fields_left_out_take_the_fast_path() -> None:
    sample = {k: v for k, v in copy.deepcopy(SAMPLE).items()
              if k not in ("v", "ideal_cycle_s", "product", "metrics")}  # fmt: skip
    assert assert_same_or_declined(raw(sample)) is not None


ODD = [
    ("v", True), ("v", 2), ("v", 1.0), ("v", None),
    ("device_id", "a:b"), ("device_id", ""), ("device_id", "x" * 129), ("device_id", "a\n"),
    ("device_id", 5), ("device_id", ["a"]),
    ("ts", "2026-11-26T08:00:05Z"), ("ts", "2026-11-26T08:00:05.123456Z"),
    ("ts", "2026-11-26T16:00:05.000+08:00"), ("ts", "2026-11-26T08:00:05.000"),
    ("ts", "2026-13-26T08:00:05.000Z"), ("ts", "2026-11-26T24:00:00.000Z"),
    ("ts", "2026-11-26T23:59:60.000Z"), ("ts", "2026-11-26 08:00:05.000Z"),
    ("ts", 1764144005000), ("ts", {"a": 1}),
    ("seq", -1), ("seq", 1.0), ("seq", True), ("seq", "1"), ("seq", 2**63), ("seq", 2**64),
    ("seq", MAX_INT), ("seq", 2**53 + 1), ("count_total", 2**63), ("count_total", 2**64 + 5),
    ("state", "running "), ("state", "RUNNING"), ("state", 1), ("state", ["down"]),
    ("count_total", -1), ("count_total", 1), ("count_good", 10**9), ("count_good", 5.0),
    ("ideal_cycle_s", 12), ("ideal_cycle_s", 0.0), ("ideal_cycle_s", 86_400.5),
    ("ideal_cycle_s", None), ("ideal_cycle_s", "12.5"), ("ideal_cycle_s", False),
    ("product", ""), ("product", "p" * 201), ("product", "p" * 200), ("product", None),
    ("product", 7), ("product", "a\x00b"), ("product", "冰箱门"),
    ("reason", "breakdown"), ("reason", "no_material"), ("reason", "spindle_overheat_2"),
    ("reason", "r" * 64), ("reason", "r" * 65), ("reason", None), ("reason", ""),
    ("reason", "Breakdown"), ("reason", "no material"), ("reason", "_stop"), ("reason", "2nd"),
    ("reason", "breakdown\n"), ("reason", "stör"), ("reason", 7), ("reason", ["breakdown"]),
    ("reason", {"code": "breakdown"}), ("reason", True),
    ("metrics", None), ("metrics", []), ("metrics", {"power_kw": 1}),
    ("metrics", {"Power": 1.0}), ("metrics", {"power_kw": True}),
    ("metrics", {"power_kw": "6.8"}), ("metrics", {f"m{i}": 1.0 for i in range(MAX_METRICS)}),
    ("metrics", {f"m{i}": 1.0 for i in range(MAX_METRICS + 1)}),
    ("extra", 1),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), ODD, ids=[f"{f}={v!r:.30}" for f, v in ODD])
def test_every_odd_value_is_declined_or_read_as_pydantic_reads_it(field: str, value: Any) -> None:
    sample = copy.deepcopy(SAMPLE)
    sample[field] = value
    assert_same_or_declined(raw(sample))


@pytest.mark.parametrize(
    "change",
    [{"seq": MAX_INT + 1}, {"seq": 2**64 - 1}, {"count_total": MAX_INT + 1, "count_good": 0},
     {"count_total": MAX_INT + 1, "count_good": MAX_INT + 1}, {"seq": 10**30}],
)  # fmt: skip
def test_a_number_past_the_databases_bigint_is_refused_by_both(change: dict[str, int]) -> None:
    # PostgreSQL's int8 cannot hold it: the sink's dumper overflowed on what passed here.
    value = raw(copy.deepcopy(SAMPLE) | change)
    assert fast_row(value) is None and slow_row(value) is None
    at_bound = {k: min(v, MAX_INT) for k, v in change.items()}
    assert assert_same_or_declined(raw(copy.deepcopy(SAMPLE) | at_bound)) is not None


HUGE = st.integers(2**62, 2**66) | st.sampled_from([MAX_INT, MAX_INT + 1, 2**64 - 1, 2**64])


@settings(max_examples=200, deadline=None)
@given(seq=HUGE, total=HUGE, good=st.integers(0, 2**66))
def test_huge_counters_and_seqs_are_declined_or_read_as_pydantic_reads_them(
    seq: int, total: int, good: int
) -> None:
    sample = copy.deepcopy(SAMPLE) | {"seq": seq, "count_total": total, "count_good": good}
    fast = assert_same_or_declined(raw(sample))
    valid = max(seq, total) <= MAX_INT and good <= total
    assert (fast is not None) == valid == (slow_row(raw(sample)) is not None)


@pytest.mark.parametrize(
    "value",
    [b"", b"null", b"[]", b'"x"', b"{", b"\xff", b'{"seq": 1e400}',
     b'{"device_id": "a", "device_id": "b"}', b" " * (MAX_MESSAGE_BYTES + 1)],
)  # fmt: skip
def test_what_is_not_a_sample_object_is_declined(value: bytes) -> None:
    assert fast_row(value) is None


def test_a_repeated_key_counts_as_its_last_value_in_both() -> None:
    text = raw(SAMPLE).decode()
    value = text.replace('"seq": 1042', '"seq": 7, "seq": 1042').encode()
    assert assert_same_or_declined(value) is not None


SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=3),
       dropped=st.sets(st.sampled_from(FIELDS), max_size=2))  # fmt: skip
def test_any_changed_sample_is_declined_or_read_as_pydantic_reads_it(
    changes: dict[str, Any], dropped: set[str]
) -> None:
    sample = {k: v for k, v in copy.deepcopy(SAMPLE).items() if k not in dropped} | changes
    assert_same_or_declined(raw(sample))
