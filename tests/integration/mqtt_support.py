"""What the MQTT and Sparkplug B adapter tests share: a private Mosquitto (to restart without
touching the stack's), the simulator's own samples to compare with, a persistent session
forgotten after a test on the stack's broker."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from iiot.messages import Sample
from simulators import Simulation, SimulationOptions
from simulators.serve.feed import samples, served
from tests.integration.adapter_support import free_port

HOST = "127.0.0.1"
SHARED_PORT = 1883  # the stack's Mosquitto


def simulation(devices: int = 3, duration_s: float = 60) -> Simulation:
    """Every device reporting: the adapters are under test, not the province's maturity."""
    options = SimulationOptions(
        devices=devices, seed=11, duration_s=duration_s, every_device_reports=True
    )
    return Simulation(options)


def expected(devices: int = 3, duration_s: float = 60) -> list[tuple[str, dict[str, Any]]]:
    """The simulator's own samples, in the order served: (device_id, sample)."""
    return [
        (sample["device_id"], sample)
        for _, sample in samples(simulation(devices, duration_s).run())
    ]


def values_of(sample: dict[str, Any]) -> dict[str, Any]:
    return served(sample)


def assert_one_for_one(published: list[Sample], want: list[tuple[str, dict[str, Any]]]) -> None:
    """Per device, the samples on Kafka are the simulator's, in order, seqs 1..n."""
    mine: dict[str, list[Sample]] = {}
    for sample in published:
        mine.setdefault(sample.device_id, []).append(sample)
    theirs: dict[str, list[dict[str, Any]]] = {}
    for device_id, own in want:
        theirs.setdefault(device_id, []).append(own)
    assert mine.keys() == theirs.keys()
    for device_id, got in mine.items():
        got.sort(key=lambda s: s.seq)
        assert [s.seq for s in got] == list(range(1, len(theirs[device_id]) + 1)), device_id
        for mine_one, own in zip(got, theirs[device_id], strict=True):
            dumped = mine_one.model_dump(mode="json")
            for key in ("ts", "state", "reason", "count_total", "count_good", "ideal_cycle_s"):
                assert dumped.get(key) == own.get(key), (device_id, mine_one.seq, key)
            assert (dumped.get("metrics") or {}) == (own.get("metrics") or {}), (
                device_id,
                sample.seq,
            )


async def forget_session(port: int, client_id: str) -> None:
    """Connect once clean: the broker drops the persistent session a test left."""
    async with aiomqtt.Client(HOST, port, identifier=client_id, clean_session=True):
        pass


class Mosquitto:
    """A Mosquitto of the test's own on a free port, persistent (its sessions and their
    queued QoS-1 messages survive `restart()`)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        # `user root`: run as root, Mosquitto would drop to the user mosquitto, who cannot
        # write its persistence file in the test's directory (ignored when not root).
        self.port = free_port()
        self.directory = directory
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} {HOST}\nallow_anonymous true\npersistence true\nuser root\n"
            f"persistence_location {directory / 'data'}/\nlog_dest file {directory / 'log'}\n"
        )
        self.command = [binary, "-c", str(self.config)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: it saves its persistence file
            self.process.wait(10)
            self.process = None

    async def restart(self, down_s: float) -> None:
        self.stop()
        await asyncio.sleep(down_s)
        self.start()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
