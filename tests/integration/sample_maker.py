"""Samples for producer tests, made directly with the contract model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iiot.messages import Sample
from iiot.types import STATES

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def sample(index: int, devices: int) -> Sample:
    """The `index`-th sample of a round-robin over `devices` devices, 5 s apart per device."""
    device, seq = index % devices, index // devices
    return Sample(
        device_id=f"zb-components-p1-l{device % 3}-smt{device:03d}",
        ts=START + timedelta(seconds=5 * seq, milliseconds=device),
        seq=seq,
        state=STATES[(seq // 11) % len(STATES)],
        count_total=seq * 2,
        count_good=seq * 2 - seq // 20,
        ideal_cycle_s=2.5,
        metrics={"power_kw": 3.0 + device / 10, "temp_c": 41.0},
    )


def reading(index: int, devices: int, product: str = "FRIDGE-DOOR-A") -> dict[str, object]:
    """`sample(index, devices)` as an adapter hands it over: a dict without seq."""
    fields = sample(index, devices).model_dump(mode="json", exclude={"seq"})
    return {**fields, "product": product}
