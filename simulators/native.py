"""The simulator's hot modules compiled to C with mypyc, where a C compiler is at hand.

`make install` runs `python -m simulators.compile`: mypyc compiles HOT (the per-sample path:
wire, machine, process, simulation) into extension modules beside their sources. They make
the same stream byte for byte (tests/unit/simulators/test_simulator_compiled.py) with over a
third fewer instructions per sample (bench/README.md). How they are built and chosen is
shared with the stream worker's modules (iiot/native.py): `choose()` runs when
`simulators/__init__.py` imports this module, before anything else, and has the pure modules
loaded when a source changed since compiling or `IIOT_SIMULATOR=pure` asks for them.
`python -m simulators.compile --status` says which one runs.
"""

from __future__ import annotations

from pathlib import Path

from iiot.native import Compiled, cannot_compile

HERE = Path(__file__).resolve().parent
SIMULATOR = Compiled(
    label="simulator",
    root=HERE.parent,
    hot=tuple(f"simulators.{name}" for name in ("wire", "machine", "process", "simulation")),
    stamp=HERE / "_compiled.json",
    group="simulators.hot",
    env="IIOT_SIMULATOR",
    probe="simulators.simulation",
)
compiled_files, choose, status = SIMULATOR.compiled_files, SIMULATOR.choose, SIMULATOR.status
__all__ = ["cannot_compile", "compiled_files", "status"]

choose()
