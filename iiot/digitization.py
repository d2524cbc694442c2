"""The digitization index of one enterprise in one window (docs/kpi.md), a pure function.

A project-defined proxy for the 两化融合 level, not the official methodology: five shares in
[0, 1], weighted (settings) and scaled to 0–100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from iiot.results import DigitizationWindow
from iiot.settings import DigitizationWeights


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """One registered device of the enterprise, and what it did in the window."""

    key_process: bool
    numerically_controlled: bool
    sample_interval_s: float
    samples: int  # samples received in the window
    has_oee: bool  # a window with a non-null OEE (planned time > 0) inside it


def _share(part: float, whole: float) -> float | None:
    return min(part / whole, 1.0) if whole > 0 else None


def digitization_window(
    enterprise_id: str,
    cloud: bool,
    start: datetime,
    end: datetime,
    devices: Iterable[DeviceActivity],
    weights: DigitizationWeights,
    revision: int = 0,
) -> DigitizationWindow:
    devices = list(devices)
    window_s = (end - start).total_seconds()
    registered = len(devices)
    reporting = sum(1 for d in devices if d.samples > 0)
    received = sum(d.samples for d in devices)
    expected = sum(window_s / d.sample_interval_s for d in devices)
    key_process = sum(1 for d in devices if d.key_process)
    key_nc = sum(1 for d in devices if d.key_process and d.numerically_controlled and d.samples > 0)
    with_oee = sum(1 for d in devices if d.has_oee)
    components = {
        "connectivity": _share(reporting, registered),
        "completeness": _share(received, expected),
        "key_process_nc": _share(key_nc, key_process),
        "oee_coverage": _share(with_oee, registered),
        "cloud": 1.0 if cloud else 0.0,
    }
    index = 100 * sum(getattr(weights, name) * (value or 0.0) for name, value in components.items())
    return DigitizationWindow(
        enterprise_id=enterprise_id,
        window_start=start,
        window_end=end,
        revision=revision,
        devices_registered=registered,
        devices_reporting=reporting,
        samples_received=received,
        samples_expected=expected,
        key_process_devices=key_process,
        key_process_nc_reporting=key_nc,
        devices_with_oee=with_oee,
        cloud=cloud,
        connectivity=components["connectivity"],
        completeness=components["completeness"],
        key_process_nc=components["key_process_nc"],
        oee_coverage=components["oee_coverage"],
        index=min(index, 100.0),
    )
