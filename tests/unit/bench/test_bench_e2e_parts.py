"""The bench helpers that need no services: /proc readings (bench/e2e_parts.py) and the
packing of samples into batch records (bench/stream_worker.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench import e2e_parts
from bench.stream_worker import packed, parse
from iiot.topics import Topic
from iiot.wire import sample_batch
from simulators import Simulation, SimulationOptions


def test_a_child_session_is_found_with_its_children_and_measured() -> None:
    burn = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'while 1: pass']); "
    burn += "t = __import__('time').time()\nwhile __import__('time').time() < t + 60: pass"
    leader = subprocess.Popen([sys.executable, "-c", burn], start_new_session=True)
    try:
        time.sleep(0.5)
        before = e2e_parts.processes({leader.pid: "simulate"})
        time.sleep(1.0)
        after = e2e_parts.processes({leader.pid: "simulate"})
        mine = [proc for proc in after.values() if proc.role == "simulate"]
        assert len(mine) == 2  # the leader and the child it started
        use = e2e_parts.usage(before, after, 1.0)["simulate"]
        percent, memory = use.split("% ")
        assert 10 <= int(percent) <= 250  # two busy processes on two shared cores
        assert memory.endswith(" MiB") and int(memory.removesuffix(" MiB").replace(",", "")) > 0
    finally:
        os.killpg(leader.pid, signal.SIGKILL)  # its own group: the leader and its child
        leader.wait()


def test_the_clock_maps_wall_time_to_event_time() -> None:
    clock = e2e_parts.Clock(start=1_000.0, wall0=5_000.0, speed=20.0)
    assert clock.event(5_000.0) == 1_000.0
    assert clock.event(5_003.0) == 1_060.0


def test_packing_keeps_every_sample_of_each_device_in_order() -> None:
    samples = []
    for event in Simulation(SimulationOptions(devices=30, duration_s=None)).run():
        if event.topic is Topic.TELEMETRY:
            samples.append(event)
            if len(samples) == 2_000:
                break
    records = packed(samples, 7)
    assert all(sample_batch.is_batch(r.value) for r in records)
    assert sum(parse(r.value) for r in records) == len(samples)
    by_device: dict[str, list[int]] = {}
    for record in records:
        batch = sample_batch.unpack(record.value)
        assert batch is not None and batch.device_id == record.key.decode()
        assert 1 <= len(batch.samples) <= 7
        by_device.setdefault(batch.device_id, []).extend(s["seq"] for s in batch.samples)
    for seqs in by_device.values():
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert sum(map(len, by_device.values())) == len(samples)
