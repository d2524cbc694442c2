"""The stream worker's compiled per-sample modules (mypyc, iiot/native.py) give the pure ones'
results to the byte, and are never used when missing, asked away or older than their sources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iiot import native

ROOT = native.ROOT
# Simulated samples with every fault, read as the worker reads them, through each device's
# state (written and read back now and then), its alarms and the windows it sends: prints a
# sha256 of all of it, then which modules ran. The same script, compiled and pure.
SCRIPT = """
import hashlib, random
from iiot import native
from iiot.contract import decode
from iiot.messages import DeviceBirth
from iiot.oee import oee_window
from iiot.topics import Topic
from iiot.wire.oee_json import oee_window_json
from simulators import Simulation, SimulationOptions
from streams.alarms import AlarmRules, AlarmState
from streams.device_state import DeviceConfig, DeviceState
from streams.ingest import fast_reading

faults = {"duplicate": 0.03, "out_of_order": 0.03, "late": 0.02, "gap": 0.01,
          "counter_reset": 0.01, "malformed": 0.02}  # no clock_skew: the worker refuses those
options = SimulationOptions(seed=7, devices=25, duration_s=3_600, faults=faults,
                            every_device_reports=True)  # all 25, only the faults' gaps
h, rnd, rules = hashlib.sha256(), random.Random(1), AlarmRules(down_after_s=60)
configs, states, alarms = {}, {}, {}
for e in Simulation(options).run():
    if e.topic is Topic.REGISTRY:
        birth = decode(DeviceBirth, e.value)
        configs[birth.device_id] = DeviceConfig(60_000, round(birth.sample_interval_s * 3_000),
                                                120_000, birth.ideal_cycle_s)
        continue
    read = fast_reading(e.key, e.value)
    h.update(repr(read).encode())
    if read is None:
        continue
    device_id, reading = read
    state = states.setdefault(device_id, DeviceState())
    outcome, changed, final = state.accept(reading, configs[device_id])
    alarm = alarms.setdefault(device_id, AlarmState())
    raised = alarm.on_reading(device_id, reading.ts_ms, reading.state, rules, 6_000)
    windows = [(s, state.windows[s]) for s in changed if s in state.windows]
    for start, w in [*windows, *sorted(final.items())]:
        h.update(repr(oee_window_json("device", device_id, start, w.parts, w.revision,
                                      w.late_samples)).encode())
    for start, w in sorted(final.items()):
        window = oee_window("device", device_id, start, w.parts, revision=w.revision)
        raised += alarm.on_final_window(device_id, window, rules)
    h.update(repr((outcome, [a.model_dump_json() for a in raised])).encode())
    if rnd.random() < 0.2:
        h.update(state.dumps() + alarm.dumps())
        states[device_id] = DeviceState.loads(state.dumps())
print(len(states), h.hexdigest())
print(native.status())
"""


def environment(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "IIOT_STREAMS"} | extra


def run(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    return out[0], out[-1]


def require_compiled(which: str) -> None:
    """Where `make install` can compile them (CI's machine) it must have: fail; skip only on
    a machine without a C compiler, where only the pure modules can run."""
    if why := native.cannot_compile():
        pytest.skip(f"{why}: only the pure modules here ({which})")
    pytest.fail(f"the stream modules are not compiled: {which}; run `make install`")


def test_compiled_and_pure_stream_modules_give_the_same_results() -> None:
    compiled, which = run(environment())
    pure, pure_which = run(environment(IIOT_STREAMS="pure"))
    assert pure_which == "pure Python (IIOT_STREAMS=pure)"
    if which != "compiled (mypyc)":
        require_compiled(which)
    assert compiled.startswith("25 ")
    assert compiled == pure


def test_stale_compiled_stream_modules_are_not_used(tmp_path: Path) -> None:
    """A source edited after compiling: the pure modules run, whatever the files beside it."""
    if not native.compiled_files():
        require_compiled("no compiled files")
    for package in ("iiot", "streams"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    script = "from iiot import native; print(native.status())"

    def status() -> str:
        return subprocess.run(
            [sys.executable, "-c", script], cwd=tmp_path, env=environment(PYTHONPATH=str(tmp_path)),
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    assert status() == "compiled (mypyc)"
    edited = tmp_path / "streams" / "device_state.py"
    edited.write_text(edited.read_text() + "\n# edited after compiling\n")
    assert status().startswith("pure Python (sources changed since compiled")
