"""Raw values read from a device → a reading of the contract (a Sample without `seq`: the
Publisher numbers it). Pure: what the values mean is the mapping's, whether the reading is
valid is the contract's — a reading that breaks it (an unmapped state code, a missing
counter) is dead-lettered by the Publisher with its reason, never dropped here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from producers.adapters.mapping import DeviceMapping, Scaled, code_text


def scaled(raw: Any, point: Scaled) -> Any:
    """raw × scale + offset, for a number, in decimal: 18120 × 0.01 is 181.2, as the device
    means it, not 181.20000000000002; anything else as it came (the contract refuses it
    with its reason)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return raw
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    if not math.isfinite(raw):
        return raw * point.scale + point.offset
    exact = Decimal(repr(raw)) * Decimal(repr(point.scale)) + Decimal(repr(point.offset))
    return float(exact)


def _count(value: Any) -> Any:
    """A counter as whole parts: 1523.0 (a float register, a scale) is 1523."""
    return round(value) if isinstance(value, float) and value == value else value


def reading(device: DeviceMapping[Any], values: Mapping[str, Any], ts: datetime) -> dict[str, Any]:
    """The reading of `device` from `values` (raw, by the field names of
    `DeviceMapping.points()`), at `ts`. A point without a value is left out."""
    fields: dict[str, Any] = {"device_id": device.device_id, "ts": _iso(ts)}
    if "state" in values:
        raw = values["state"]
        meaning = device.state_codes.get(code_text(raw))
        if meaning is None:  # unmapped: the raw code, which the contract refuses, naming it
            fields["state"] = code_text(raw)
        else:
            fields["state"] = meaning.state
            if meaning.reason is not None:
                fields["reason"] = meaning.reason
    for counter in ("count_total", "count_good"):
        if counter in values:
            fields[counter] = _count(scaled(values[counter], getattr(device, counter)))
    cycle = device.ideal_cycle_s
    if isinstance(cycle, Scaled):
        if "ideal_cycle_s" in values:
            fields["ideal_cycle_s"] = scaled(values["ideal_cycle_s"], cycle)
    elif cycle is not None:
        fields["ideal_cycle_s"] = cycle
    if device.product is not None:
        fields["product"] = device.product
    metrics = {
        name: scaled(values[key], point)
        for name, point in device.metrics.items()
        if (key := f"metrics.{name}") in values
    }
    if metrics:
        fields["metrics"] = metrics
    return fields


def _iso(ts: datetime) -> str:
    """The contract's spelling: UTC, milliseconds, Z."""
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
