"""`python -m streams.compile`: compile the stream worker's per-sample modules with mypyc, in
place (what `make install` runs; iiot/native.py says why, which and how they are chosen at
import). `--status` prints which ones this interpreter runs: compiled or pure Python, and why.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from iiot import native


def build() -> None:
    """Compile HOT in place; without a C compiler or mypyc, say so and leave pure Python."""
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError:
        print("stream modules: pure Python (mypy is not installed: no mypyc)")
        return
    if why := native.cannot_compile():
        print(f"stream modules: pure Python ({why})")
        return
    for old in [*native.compiled_files(), native.STAMP]:
        old.unlink(missing_ok=True)
    sources = native.source_hashes()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(native.ROOT)  # mypyc names modules from paths relative to the root
        # Only HOT has to type-check; what they import is read for its types, not judged.
        flags = ["--follow-imports=silent", "--ignore-missing-imports", "--cache-dir", scratch]
        paths = [str(native.source(name).relative_to(native.ROOT)) for name in native.HOT]
        setup(
            name="streams-compiled",
            ext_modules=mypycify(
                [*paths, *flags], target_dir=f"{scratch}/c", group_name=native.GROUP
            ),
            script_args=[
                *("--quiet", "build_ext", "--inplace"),
                *("--build-temp", f"{scratch}/o", "--build-lib", f"{scratch}/lib"),
            ],
        )
    if native.source_hashes() == sources:  # not edited while compiling
        native.STAMP.write_text(json.dumps(sources, indent=1) + "\n")
    print(f"stream modules: compiled (mypyc): {', '.join(p.name for p in native.compiled_files())}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--status"]:
        print(native.status())
    else:
        build()
