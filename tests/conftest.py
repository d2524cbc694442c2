"""Shared test data: a valid example of every message, as docs/contract.md shows them."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.private_stack import PrivateStack

# The tests publish fixed dates (2026-11-26 …). Kafka deletes iiot.telemetry records older
# than the topic's retention by their timestamp, every 5 minutes: as the calendar passed
# seven days, a worker re-reading after a SIGKILL found them gone. The topics the tests make
# keep telemetry for good (a test that needs the retention sets it itself).
os.environ.setdefault("IIOT_KAFKA_TELEMETRY_RETENTION_DAYS", "0")

SAMPLE: dict[str, Any] = {
    "v": 1,
    "device_id": "qd-haier-p1-l2-press03",
    "ts": "2026-11-26T08:00:05.000Z",
    "seq": 1042,
    "state": "running",
    "count_total": 5321,
    "count_good": 5290,
    "ideal_cycle_s": 12.5,
    "product": "FRIDGE-DOOR-A",
    "metrics": {"hydraulic_bar": 181.2, "power_kw": 6.8},
}

BIRTH: dict[str, Any] = {
    "v": 1,
    "device_id": "qd-haier-p1-l2-press03",
    "enterprise": {
        "id": "qd-haier",
        "name": "海尔智家 Haier Smart Home",
        "city": "qingdao",
        "industry": "smart appliances",
        "cloud": True,
    },
    "plant_id": "qd-haier-p1",
    "line_id": "qd-haier-p1-l2",
    "kind": "stamping_press",
    "key_process": True,
    "numerically_controlled": True,
    "sample_interval_s": 5.0,
    "ideal_cycle_s": 12.5,
}

# The worked example of docs/kpi.md: 30 s running, 15 s down, 15 s planned stop;
# 3 parts at ideal 8 s, 1 bad → A = 30/45, P = 24/30, Q = 2/3, OEE = 16/45.
OEE_WINDOW: dict[str, Any] = {
    "v": 1,
    "level": "device",
    "entity_id": "qd-haier-p1-l2-press03",
    "window_start": "2026-11-26T08:00:00.000Z",
    "window_end": "2026-11-26T08:01:00.000Z",
    "revision": 0,
    "devices": 1,
    "samples": 12,
    "late_samples": 0,
    "run_s": 30.0,
    "idle_s": 0.0,
    "setup_s": 0.0,
    "down_s": 15.0,
    "planned_stop_s": 15.0,
    "unknown_s": 0.0,
    "planned_s": 45.0,
    "ideal_run_s": 24.0,
    "count_total": 3,
    "count_good": 2,
    "availability": 30 / 45,
    "performance": 24 / 30,
    "quality": 2 / 3,
    "oee": 16 / 45,
    "performance_suspect": False,
}


@pytest.fixture
def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


@pytest.fixture
def birth() -> dict[str, Any]:
    return copy.deepcopy(BIRTH)


@pytest.fixture
def oee_window() -> dict[str, Any]:
    return copy.deepcopy(OEE_WINDOW)


@pytest.fixture
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """Services of a test's own, to stop on purpose (start them with `.up("kafka")`):
    the outage tests and the fault matrix; purged afterwards."""
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.purge()
