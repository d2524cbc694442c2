"""What every served protocol's mapping file shares: the enterprises, given once, and each
device's head (id, interval, registry fields, state-code table); the points are the
protocol's."""

from __future__ import annotations

from typing import Any

from iiot.messages import DeviceBirth
from simulators.serve.feed import state_codes


def enterprises(births: list[DeviceBirth]) -> list[dict[str, Any]]:
    """The births' enterprises, each once, in the order they first appear."""
    seen: dict[str, dict[str, Any]] = {}
    for birth in births:
        seen.setdefault(birth.enterprise.id, birth.enterprise.model_dump(mode="json"))
    return list(seen.values())


def device(birth: DeviceBirth, points: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One device of a mapping file: its birth, its `points` (by the field names of
    `DeviceMapping.points()`: state, count_total, count_good, ideal_cycle_s,
    metrics.<name>) and the served state codes."""
    return {
        "device_id": birth.device_id,
        "sample_interval_s": birth.sample_interval_s,
        "birth": {
            "enterprise": birth.enterprise.id,
            "plant_id": birth.plant_id,
            "line_id": birth.line_id,
            "kind": birth.kind,
            "key_process": birth.key_process,
            "numerically_controlled": birth.numerically_controlled,
            "ideal_cycle_s": birth.ideal_cycle_s,
        },
        "state": points["state"],
        "state_codes": state_codes(),
        "count_total": points["count_total"],
        "count_good": points["count_good"],
        "ideal_cycle_s": points["ideal_cycle_s"],
        "metrics": {
            name.removeprefix("metrics."): point
            for name, point in points.items()
            if name.startswith("metrics.")
        },
    }
