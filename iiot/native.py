"""The stream worker's per-sample modules compiled to C with mypyc, where a C compiler is at hand.

`make install` runs `python -m streams.compile`: mypyc compiles HOT (a sample read, its
reading applied to the device's state and alarms, a window written) into extension modules
beside their sources (gitignored), ~2× less CPU per sample in bench/stream_parts.py. They
give the same results (tests/unit/streams/test_streams_compiled.py); nothing needs them:
without a compiler nothing is built and the pure-Python modules run.

As for the simulator (simulators/native.py), compiled files never run for sources that
changed after them: the build writes the sources' hashes to STAMP, and an import finder,
installed when `iiot` is imported (before any of HOT, `streams` imports `iiot` first), loads
the pure `.py` of HOT when a hash differs or `IIOT_STREAMS=pure` asks for it. The finder
imports nothing of them: `iiot` never imports a part (`streams`); it knows them by name.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
HOT = (
    "iiot.kpi",
    "iiot.oee",
    "iiot.wire.plain_sample",
    "iiot.wire.oee_json",
    "streams.alarms",
    "streams.device_state",
)
STAMP = ROOT / "iiot" / "_compiled.json"  # {module: sha256 of the source it was compiled from}
GROUP = "iiot.hot"  # mypyc's shared library: iiot/hot__mypyc.*.so
_pure_reason = ""


def source(module: str) -> Path:
    return ROOT / f"{module.replace('.', '/')}.py"


def source_hashes() -> dict[str, str]:
    return {name: hashlib.sha256(source(name).read_bytes()).hexdigest() for name in HOT}


def compiled_files() -> list[Path]:
    """The extension files a build left (for this interpreter's suffixes)."""
    stems = [source(name).with_suffix("") for name in (*HOT, f"{GROUP}__mypyc")]
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    return [Path(f"{s}{x}") for s in stems for x in suffixes if Path(f"{s}{x}").exists()]


def cannot_compile() -> str:
    """Why this machine cannot compile them ('' when it can): no C compiler, or no Python
    headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which(compiler) is None or not headers.exists():
        return f"no C compiler {compiler!r} or no {headers}"
    return ""


def _why_pure() -> str:
    """Why the pure modules run; '' when the compiled ones may."""
    if os.environ.get("IIOT_STREAMS", "").lower() == "pure":
        return "IIOT_STREAMS=pure"
    if not compiled_files():
        return "not compiled: `make install` compiles them where a C compiler is"
    try:
        built = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        built = None
    if built != source_hashes():
        return "sources changed since compiled: `make install` compiles them again"
    return ""


class _PureFinder(importlib.abc.MetaPathFinder):
    """Finds HOT as their `.py`, ahead of the extension files beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOT:
            return None
        return importlib.util.spec_from_file_location(fullname, source(fullname))


def choose() -> None:
    """Have HOT imported pure when the compiled files must not run."""
    global _pure_reason
    _pure_reason = _why_pure()
    installed = any(isinstance(f, _PureFinder) for f in sys.meta_path)
    if _pure_reason and compiled_files() and not installed:
        sys.meta_path.insert(0, _PureFinder())


def status() -> str:
    """Which modules this process runs: `compiled (mypyc)` or `pure Python (why)`."""
    import iiot.oee

    if iiot.oee.__file__.endswith(".py"):
        return f"pure Python ({_pure_reason or 'compiled files not found'})"
    return "compiled (mypyc)"
