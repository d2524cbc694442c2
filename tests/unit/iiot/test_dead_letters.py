"""A dead letter is bounded whatever it carries, and still finds its original."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.contract import ContractError, dead_letter, decode, encode
from iiot.results import PAYLOAD_KEPT_BYTES, DeadLetter
from iiot.types import MAX_MESSAGE_BYTES
from sinks.partitions import Policy

# The worst JSON escaping: each control character becomes `\u0001`, 6 bytes.
WORST = "\x01"


def test_a_huge_value_keeps_its_head_its_size_and_its_hash() -> None:
    """A 200 KB value made a 1.2 MB letter: over Kafka's 1 MB request size."""
    value = WORST.encode() * 200_000
    letter = dead_letter(
        "streams.ingest",
        ContractError("too_large", WORST * 10_000),
        value,
        topic="iiot.telemetry",
        partition=2,
        offset=7,
        key=WORST.encode() * 1_000_000,
    )
    wire = encode(letter)
    assert len(wire) < MAX_MESSAGE_BYTES  # so the sink reads it back, far below 1 MB
    assert decode(DeadLetter, wire) == letter
    assert letter.payload == WORST * PAYLOAD_KEPT_BYTES
    assert letter.payload_bytes == 200_000
    assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
    assert letter.key is not None and len(letter.key) == 1_000
    assert len(letter.reason) == 2_000


def test_binary_keeps_its_head_in_base64_and_text_is_never_cut_inside_a_character() -> None:
    error = ContractError("invalid_json", "message: Invalid JSON")
    binary = dead_letter("sink", error, b"\xff" * 10_000)
    assert binary.payload is None and binary.payload_b64 is not None
    assert base64.b64decode(binary.payload_b64) == b"\xff" * PAYLOAD_KEPT_BYTES
    text = dead_letter("sink", error, "济".encode() * 5_000)  # 3 bytes a character
    assert text.payload == "济" * (PAYLOAD_KEPT_BYTES // 3)
    assert text.payload_bytes == 15_000


def test_a_small_value_is_kept_whole() -> None:
    letter = dead_letter("sink", ContractError("invalid_json", "x"), b'{"v": 1')
    assert letter.payload == '{"v": 1' and letter.payload_bytes == 7


@given(
    value=st.binary(max_size=3 * PAYLOAD_KEPT_BYTES) | st.text(max_size=9_000).map(str.encode),
    key=st.binary(max_size=6_000),
    reason=st.text(min_size=1, max_size=4_000),
)
def test_every_letter_fits_and_reads_back(value: bytes, key: bytes, reason: str) -> None:
    letter = dead_letter("streams.ingest", ContractError("invalid_field", reason), value, key=key)
    wire = encode(letter)
    assert len(wire) < MAX_MESSAGE_BYTES
    assert decode(DeadLetter, wire) == letter


@pytest.mark.parametrize("ts", [datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)])
def test_a_time_whose_partition_cannot_exist_has_no_bound(ts: datetime) -> None:
    week = Policy("oee", timedelta(days=7), timedelta(days=730))
    assert week.lower_bound_or_none(ts) is None
    assert week.lower_bound_or_none(datetime(2026, 11, 26, tzinfo=UTC)) is not None
