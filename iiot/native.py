"""Per-sample modules compiled to C with mypyc where a C compiler is at hand, and chosen at
import: the simulator's (simulators/native.py) and the stream worker's (`STREAMS` below).

`make install` runs `python -m simulators.compile` and `python -m streams.compile`: mypyc
compiles a set's HOT modules into extension modules beside their sources (gitignored),
which Python imports before a `.py` of the same name. They give the same results as the
pure modules (tests/unit/simulators/test_simulator_compiled.py,
tests/unit/streams/test_streams_compiled.py) for less CPU per sample (bench/README.md).
Nothing needs them: without a compiler (the Docker image) nothing is built and the
pure-Python modules run.

Compiled files never run for sources that changed after them: the build writes the sources'
hashes to the set's stamp, and `choose()`, called before any of HOT is imported, installs an
import finder that loads their `.py` when a hash differs (an edit without `make install`) or
the set's environment variable (`IIOT_STREAMS=pure`, `IIOT_SIMULATOR=pure`) asks for it. The
finder knows the modules by name and imports none of them: `iiot` never imports a part.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType


def cannot_compile() -> str:
    """Why this machine cannot compile them ('' when it can): no C compiler, or no Python
    headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which(compiler) is None or not headers.exists():
        return f"no C compiler {compiler!r} or no {headers}"
    return ""


@dataclass
class Compiled:
    """One set of hot modules, compiled together into one mypyc group."""

    label: str  # what `build` and `status` call them: "simulator", "stream modules"
    root: Path  # the directory their top packages are in
    hot: tuple[str, ...]  # full module names, in import order
    stamp: Path  # {module: sha256 of the source it was compiled from}
    group: str  # mypyc's shared library: e.g. iiot.hot → iiot/hot__mypyc.*.so
    env: str  # the variable that asks for the pure modules
    probe: str  # a module of `hot` whose file says which ones run
    pure_reason: str = field(default="", init=False)

    def source(self, module: str) -> Path:
        return self.root / f"{module.replace('.', '/')}.py"

    def source_hashes(self) -> dict[str, str]:
        return {m: hashlib.sha256(self.source(m).read_bytes()).hexdigest() for m in self.hot}

    def compiled_files(self) -> list[Path]:
        """The extension files a build left (for this interpreter's suffixes)."""
        stems = [self.source(m).with_suffix("") for m in (*self.hot, f"{self.group}__mypyc")]
        suffixes = importlib.machinery.EXTENSION_SUFFIXES
        return [Path(f"{s}{x}") for s in stems for x in suffixes if Path(f"{s}{x}").exists()]

    def why_pure(self) -> str:
        """Why the pure modules run; '' when the compiled ones may."""
        if os.environ.get(self.env, "").lower() == "pure":
            return f"{self.env}=pure"
        if not self.compiled_files():
            return "not compiled: `make install` compiles them where a C compiler is"
        try:
            built = json.loads(self.stamp.read_text())
        except (OSError, ValueError):
            built = None
        if built != self.source_hashes():
            return "sources changed since compiled: `make install` compiles them again"
        return ""

    def choose(self) -> None:
        """Have HOT imported pure when the compiled files must not run."""
        self.pure_reason = self.why_pure()
        installed = any(isinstance(f, _PureFinder) and f.modules is self for f in sys.meta_path)
        if self.pure_reason and self.compiled_files() and not installed:
            sys.meta_path.insert(0, _PureFinder(self))

    def status(self) -> str:
        """Which ones this process runs: `compiled (mypyc)` or `pure Python (why)`."""
        if (importlib.import_module(self.probe).__file__ or "").endswith(".py"):
            return f"pure Python ({self.pure_reason or 'compiled files not found'})"
        return "compiled (mypyc)"

    def build(self) -> None:
        """Compile HOT in place; without a C compiler or mypyc, say so and leave pure Python."""
        try:
            from mypyc.build import mypycify
            from setuptools import setup  # type: ignore[import-untyped]
        except ImportError:
            print(f"{self.label}: pure Python (mypy is not installed: no mypyc)")
            return
        if why := cannot_compile():
            print(f"{self.label}: pure Python ({why})")
            return
        for old in [*self.compiled_files(), self.stamp]:
            old.unlink(missing_ok=True)
        sources = self.source_hashes()
        with tempfile.TemporaryDirectory() as scratch:
            os.chdir(self.root)  # mypyc names modules from paths relative to the root
            # Only HOT has to type-check; what they import is read for its types, not judged.
            flags = ["--follow-imports=silent", "--ignore-missing-imports", "--cache-dir", scratch]
            paths = [str(self.source(m).relative_to(self.root)) for m in self.hot]
            setup(
                name=f"{self.group}-compiled",
                ext_modules=mypycify(
                    [*paths, *flags], target_dir=f"{scratch}/c", group_name=self.group
                ),
                script_args=[
                    *("--quiet", "build_ext", "--inplace"),
                    *("--build-temp", f"{scratch}/o", "--build-lib", f"{scratch}/lib"),
                ],
            )
        if self.source_hashes() == sources:  # not edited while compiling
            self.stamp.write_text(json.dumps(sources, indent=1) + "\n")
        built = ", ".join(p.name for p in self.compiled_files())
        print(f"{self.label}: compiled (mypyc): {built}")

    def main(self, args: Sequence[str]) -> None:
        """`python -m <package>.compile [--status]`: build, or say which ones run."""
        if list(args) == ["--status"]:
            print(self.status())
        else:
            self.build()


class _PureFinder(importlib.abc.MetaPathFinder):
    """Finds a set's HOT as their `.py`, ahead of the extension files beside them."""

    def __init__(self, modules: Compiled) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules.hot:
            return None
        return importlib.util.spec_from_file_location(fullname, self.modules.source(fullname))


ROOT = Path(__file__).resolve().parent.parent
# The stream worker's: a sample read, its reading applied to the device's state and alarms, a
# window written (~2× less CPU per sample in bench/stream_parts.py). Installed when `iiot` is
# imported, before any of them (`streams` imports `iiot` first).
STREAMS = Compiled(
    label="stream modules",
    root=ROOT,
    hot=(
        "iiot.kpi",
        "iiot.oee",
        "iiot.wire.plain_sample",
        "iiot.wire.oee_json",
        "streams.alarms",
        "streams.device_state",
    ),
    stamp=ROOT / "iiot" / "_compiled.json",
    group="iiot.hot",
    env="IIOT_STREAMS",
    probe="iiot.oee",
)
compiled_files, choose, status = STREAMS.compiled_files, STREAMS.choose, STREAMS.status
