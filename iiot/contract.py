"""Decoding and encoding messages at the edges, with one-line errors.

Every stage that reads bytes from Kafka or a device goes through `decode`, so every bad
input is refused the same way: a `ContractError` whose `reason` names the field and why,
in one line, ready for a CLI message or a dead letter.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from iiot.messages import DeviceBirth, Reading, Sample, SampleBatch
from iiot.results import PAYLOAD_KEPT_BYTES, Alarm, DeadLetter, DigitizationWindow, OeeWindow
from iiot.types import MAX_MESSAGE_BYTES

M = TypeVar("M", bound=BaseModel)

MODELS: dict[str, type[BaseModel]] = {
    "Sample": Sample,
    "SampleBatch": SampleBatch,
    "Reading": Reading,
    "DeviceBirth": DeviceBirth,
    "OeeWindow": OeeWindow,
    "DigitizationWindow": DigitizationWindow,
    "Alarm": Alarm,
    "DeadLetter": DeadLetter,
}

_MAX_INPUT_SHOWN = 60


class ContractError(ValueError):
    """A message that breaks the contract. `code` is for machines, `reason` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_SHOWN else text[: _MAX_INPUT_SHOWN - 1] + "…"


def describe(error: Any) -> str:
    """One error of a ValidationError: `field.path: why (got value)`."""
    where = ".".join(str(part) for part in error["loc"]) or "message"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in {"missing", "extra_forbidden", "json_invalid"} or not error["loc"]:
        return f"{where}: {msg}"
    return f"{where}: {msg} (got {_shown(error['input'])})"


def one_line(exc: ValidationError) -> str:
    """All of a validation error on one line: `field: why (got value); field: why …`."""
    text = "; ".join(describe(error) for error in exc.errors(include_url=False))
    return " ".join(text.split())  # no newlines, ever


def _code(exc: ValidationError) -> str:
    types = {error["type"] for error in exc.errors(include_url=False)}
    if "json_invalid" in types:
        return "invalid_json"
    if "model_type" in types:
        return "not_an_object"
    if types == {"literal_error"} and any(e["loc"] == ("v",) for e in exc.errors()):
        return "unsupported_version"
    return "invalid_field"


def decode(model: type[M], raw: bytes | str) -> M:
    """Parse and validate one JSON message, or raise `ContractError`."""
    limit = getattr(model, "max_bytes", MAX_MESSAGE_BYTES)  # a batch record's is larger
    if len(raw) > limit:
        raise ContractError("too_large", f"message is {len(raw)} bytes, the limit is {limit}")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ContractError(_code(exc), one_line(exc)) from None


def encode(message: BaseModel) -> bytes:
    """The wire form: compact UTF-8 JSON."""
    return message.model_dump_json().encode()


def dead_letter(
    stage: str,
    error: ContractError,
    value: bytes | None,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
    timestamp_ms: int | None = None,
) -> DeadLetter:
    """A dead letter for a refused message: why, where it came from, and its bytes.

    Every part is bounded, so a letter always fits far below Kafka's 1 MB request size (and
    below `MAX_MESSAGE_BYTES`, so the sink can read it back) whatever the input: only the
    first `PAYLOAD_KEPT_BYTES` of the value are kept, with its full size and the sha256 of
    the whole to find and compare the original.
    """
    payload = payload_b64 = size = digest = None
    if value is not None:
        head = value[:PAYLOAD_KEPT_BYTES]
        try:
            value.decode()
            payload = head.decode(errors="ignore")  # drops only a character cut in two
        except UnicodeDecodeError:
            payload_b64 = base64.b64encode(head).decode()
        size, digest = len(value), hashlib.sha256(value).hexdigest()
    if isinstance(key, bytes):  # a character is at most 4 bytes: enough bytes for 1,000
        key = key[:4_000].decode(errors="backslashreplace")
    return DeadLetter(
        stage=stage,
        code=error.code,
        reason=error.reason[:2_000] or "?",
        topic=topic,
        partition=partition,
        offset=offset,
        key=key[:1_000] if key is not None else None,
        timestamp_ms=timestamp_ms,
        payload=payload,
        payload_b64=payload_b64,
        payload_bytes=size,
        payload_sha256=digest,
    )


LETTER_KEY_BYTES = 1_000


def letter_key(key: bytes | None) -> bytes | None:
    """The Kafka key to send a dead letter under: the original key, cut short, so a record
    with a huge key cannot make its letter's record too large for Kafka either."""
    return key[:LETTER_KEY_BYTES] if key is not None else None


class RecordOrigin(Protocol):
    """Where a Kafka record came from, as a stage that refuses it knows it."""

    @property
    def topic(self) -> str: ...  # logical, without the prefix
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp_ms(self) -> int | None: ...


def refused(stage: str, error: ContractError, origin: RecordOrigin) -> DeadLetter:
    """The dead letter of a record a stage refused, with where it came from."""
    return dead_letter(
        stage,
        error,
        origin.value,
        topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        key=origin.key,
        timestamp_ms=origin.timestamp_ms,
    )
