"""Looking into a reading from outside before the contract has validated it."""

from __future__ import annotations

import orjson


def device_id_in(value: bytes) -> bytes | None:
    """The device_id of a rejected reading, if it has one: the dead letter's key."""
    try:
        device_id = orjson.loads(value).get("device_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return device_id.encode() if isinstance(device_id, str) else None
