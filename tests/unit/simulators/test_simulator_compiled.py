"""The compiled simulator (mypyc, simulators/native.py) makes the pure one's stream byte for
byte, and is never used when it is missing, asked away or older than its sources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from simulators import native

ROOT = Path(__file__).resolve().parents[3]
ALL_FAULTS = {
    "duplicate": 0.02, "out_of_order": 0.02, "late": 0.01, "gap": 0.005,
    "counter_reset": 0.005, "clock_skew": 0.01, "malformed": 0.01,
}  # fmt: skip
# Sizes, seeds, odd durations and starts, shards, each fault alone and all together.
OPTION_SETS = [
    {"devices": 60, "duration_s": 1_800},
    {"devices": 25, "seed": 11, "duration_s": 977, "start": "2026-03-01T05:59:58.750Z"},
    {"devices": 40, "seed": 3, "duration_s": 1_200, "shard": 1, "shards": 3},
    {"devices": 30, "seed": 5, "duration_s": 2_400, "faults": ALL_FAULTS},
    *({"devices": 20, "seed": 9, "duration_s": 900, "faults": {f: 0.05}} for f in ALL_FAULTS),
]
# Prints, per option set, the sha256 of every record and of what the run reports, then which
# simulator ran: the same script, compiled and pure.
SCRIPT = """
import hashlib, sys, orjson
from simulators import Simulation, SimulationOptions, native
for options in orjson.loads(sys.argv[1]):
    sim = Simulation(SimulationOptions.model_validate(options))
    h = hashlib.sha256()
    n = 0
    for e in sim.run(seq_base={"qd-haier-p1-l1-press01": 41}):
        h.update(repr((e.topic.value, e.key, e.value, e.timestamp_ms, e.valid, e.due_ms)).encode())
        n += 1
    h.update(repr((sim.injected, sorted(sim.last_seqs().items()))).encode())
    print(n, h.hexdigest())
print(native.status())
"""


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IIOT_SIMULATOR"}
    return env | extra


def streams(env: dict[str, str]) -> tuple[list[str], str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, orjson.dumps(OPTION_SETS).decode()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return out[:-1], out[-1]


def require_compiled(which: str) -> None:
    """Where `make install` can compile the simulator (CI's machine) it must have: fail; skip
    only on a machine without a C compiler, where only the pure simulator can run."""
    if why := native.cannot_compile():
        pytest.skip(f"{why}: only the pure simulator here ({which})")
    pytest.fail(f"the simulator is not compiled: {which}; run `make install`")


def test_compiled_and_pure_simulators_make_the_same_stream() -> None:
    compiled, which = streams(environment())
    pure, pure_which = streams(environment(IIOT_SIMULATOR="pure"))
    assert pure_which == "pure Python (IIOT_SIMULATOR=pure)"
    if which != "compiled (mypyc)":
        require_compiled(which)
    assert len(compiled) == len(OPTION_SETS)
    assert compiled == pure


def test_stale_compiled_files_are_not_used(tmp_path: Path) -> None:
    """A source edited after compiling: the pure modules run, whatever the files beside it."""
    if not native.compiled_files():
        require_compiled("no compiled files")
    copy = tmp_path / "simulators"
    shutil.copytree(native.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = "from simulators import native; print(native.status())"

    def status() -> str:
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=environment(PYTHONPATH=str(tmp_path)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert status() == "compiled (mypyc)"
    machine = copy / "machine.py"
    machine.write_text(machine.read_text() + "\n# edited after compiling\n")
    assert status().startswith("pure Python (sources changed since compiled")
