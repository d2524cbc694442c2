"""The simulator's hot modules compiled to C with mypyc, where a C compiler is at hand.

`make install` runs `python -m simulators.compile`: mypyc compiles HOT (the per-sample path:
wire, machine, process, simulation) into extension modules beside their sources
(gitignored), which Python imports before a `.py` of the same name. They make the same
stream byte for byte (tests/unit/simulators/test_simulator_compiled.py) with over a third fewer
instructions per sample (bench/README.md). Nothing needs them: without a compiler (the
Docker image) nothing is built and the pure-Python modules run.

Compiled files must never run for sources that changed after them: the build writes the
sources' hashes to STAMP, and `choose()` — run when `simulators/__init__.py` imports this
module, before anything else — loads the pure modules when a hash differs (an edit without
`make install`), or when `IIOT_SIMULATOR=pure` asks for them.
`python -m simulators.compile --status` says which one runs.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path

HOT = ("wire", "machine", "process", "simulation")  # in import order: each needs the earlier
HERE = Path(__file__).parent
STAMP = HERE / "_compiled.json"  # {module: sha256 of the source it was compiled from}
GROUP = "simulators.hot"  # mypyc's shared library: simulators/hot__mypyc.*.so
_pure_reason = ""


def source_hashes() -> dict[str, str]:
    return {name: hashlib.sha256((HERE / f"{name}.py").read_bytes()).hexdigest() for name in HOT}


def compiled_files() -> list[Path]:
    """The extension files a build left (for this interpreter's suffixes)."""
    names = [*HOT, GROUP.rsplit(".", 1)[1] + "__mypyc"]
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    return [HERE / f"{n}{s}" for n in names for s in suffixes if (HERE / f"{n}{s}").exists()]


def cannot_compile() -> str:
    """Why this machine cannot compile the simulator ('' when it can): no C compiler, or no
    Python headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which(compiler) is None or not headers.exists():
        return f"no C compiler {compiler!r} or no {headers}"
    return ""


def _why_pure() -> str:
    """Why the pure modules run; '' when the compiled ones may."""
    if os.environ.get("IIOT_SIMULATOR", "").lower() == "pure":
        return "IIOT_SIMULATOR=pure"
    if not compiled_files():
        return "not compiled: `make install` compiles it where a C compiler is"
    try:
        built = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        built = None
    if built != source_hashes():
        return "sources changed since compiled: `make install` compiles them again"
    return ""


def choose() -> None:
    """Load the pure modules ahead of the compiled ones when those must not run."""
    global _pure_reason
    _pure_reason = _why_pure()
    if not _pure_reason or not compiled_files():
        return  # the ordinary import finds what should run
    package = sys.modules["simulators"]
    for name in HOT:
        full = f"simulators.{name}"
        spec = importlib.util.spec_from_file_location(full, HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
        setattr(package, name, module)


def status() -> str:
    """Which simulator this process runs: `compiled (mypyc)` or `pure Python (why)`."""
    import simulators.simulation

    if simulators.simulation.__file__.endswith(".py"):
        return f"pure Python ({_pure_reason or 'compiled files not found'})"
    return "compiled (mypyc)"


choose()
