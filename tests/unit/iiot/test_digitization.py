"""The digitization index: a hand-computed enterprise hour, and its edge cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iiot.digitization import DeviceActivity, digitization_window
from iiot.settings import DigitizationWeights

START = datetime(2026, 11, 26, 8, tzinfo=UTC)
END = datetime(2026, 11, 26, 9, tzinfo=UTC)
WEIGHTS = DigitizationWeights()  # 0.25, 0.20, 0.25, 0.15, 0.15


def test_hand_computed_enterprise_hour() -> None:
    devices = [
        # key-process CNC, reporting every 5 s all hour: 720 of 720
        DeviceActivity(True, True, 5.0, 720, True),
        # key-process manual press, reporting half the hour: 360 of 720
        DeviceActivity(True, False, 5.0, 360, True),
        # packaging line, silent
        DeviceActivity(False, False, 10.0, 0, False),
        # key-process NC, silent: does not count as verified NC
        DeviceActivity(True, True, 10.0, 0, False),
    ]
    w = digitization_window("zb-dongyue", True, START, END, devices, WEIGHTS)
    assert (w.devices_registered, w.devices_reporting) == (4, 2)
    assert (w.samples_received, w.samples_expected) == (1080, 720 + 720 + 360 + 360)
    assert (w.key_process_devices, w.key_process_nc_reporting, w.devices_with_oee) == (3, 1, 2)
    assert w.connectivity == 0.5
    assert w.completeness == pytest.approx(1080 / 2160)
    assert w.key_process_nc == pytest.approx(1 / 3)
    assert w.oee_coverage == 0.5
    expected = 100 * (0.25 * 0.5 + 0.20 * 0.5 + 0.25 / 3 + 0.15 * 0.5 + 0.15 * 1)
    assert w.index == pytest.approx(expected)


def test_no_key_process_devices_gives_null_component_counted_as_zero() -> None:
    devices = [DeviceActivity(False, True, 5.0, 720, True)]
    w = digitization_window("wh-peripherals", False, START, END, devices, WEIGHTS)
    assert w.key_process_nc is None
    assert w.index == pytest.approx(100 * (0.25 + 0.20 + 0.15))


def test_completeness_is_capped_at_one() -> None:
    devices = [DeviceActivity(False, False, 5.0, 900, True)]  # a device sampling too fast
    assert digitization_window("x", False, START, END, devices, WEIGHTS).completeness == 1.0
