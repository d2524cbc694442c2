"""Looking into a reading from outside before the contract has validated it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def fields_without_seq(
    reading: bytes | str | Mapping[str, Any], raw: bytes | str
) -> dict[str, Any] | None:
    """The reading's fields if it is a JSON object without `seq`; else None (then it is
    decoded as it came, and invalid JSON is refused there)."""
    if isinstance(reading, Mapping):
        return None if "seq" in reading else dict(reading)
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return fields if isinstance(fields, dict) and "seq" not in fields else None


def device_id_in(value: bytes) -> bytes | None:
    """The device_id of a rejected reading, if it has one: the dead letter's key."""
    try:
        device_id = orjson.loads(value).get("device_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return device_id.encode() if isinstance(device_id, str) else None
