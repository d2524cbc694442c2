"""Benchmark runs as data: one JSON file per run in bench/results/, and the table of the latest.

    python bench/results.py table            # the table of the latest figures, as markdown
    python bench/results.py table --write    # the same into bench/README.md, between its markers

A run records what the script measured (`figures`: ours; `peers`: what it compares with;
`ratios`), with the machine (cores, memory, CPU model), the 1-minute load average seen during
the run, the commit, the date and the command. The machines are shared, so a figure means
little without the load beside it. Runs converted from the old log in bench/README.md keep
its numbers as logged; what the log did not say is null.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- results table: start -->", "<!-- results table: end -->"


def machine() -> dict[str, Any]:
    """Cores, memory and CPU model of this machine (null where it does not say)."""
    model = None
    memory = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        model = found.group(1).strip() if found else None
        meminfo = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory = int(meminfo.group(1)) * 1024 if meminfo else None
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "cpu_model": model or platform.processor() or None,
    }


def load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


def commit() -> str | None:
    """HEAD's commit, with `-dirty` when the tree has uncommitted changes; null outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=BENCH, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def record(
    script: str,
    unit: str,
    figures: dict[str, float],
    peers: dict[str, float] | None = None,
    ratios: dict[str, float] | None = None,
    loads: list[float] | None = None,
    note: str | None = None,
) -> Path:
    """Write one run to bench/results/ and return its path.

    `loads` are the 1-minute load averages the script saw (before, during, after); the load
    now is added. Ratios are fractions (0.62, not 62%).
    """
    now = datetime.now(UTC)
    run = {
        "script": script,
        "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": commit(),
        "machine": machine(),
        "load_1min": [round(value, 2) for value in [*(loads or []), load()]],
        "unit": unit,
        "figures": _rounded(figures, 2),
        "peers": _rounded(peers or {}, 2),
        "ratios": _rounded(ratios or {}, 4),
        "variant": None,
        "note": note,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = Path(script).stem
    path = RESULTS / f"{now.strftime('%Y-%m-%dT%H%M%S')}-{stem}.json"
    path.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n")
    print(f"run recorded in {path}")
    return path


def _rounded(values: dict[str, float], digits: int) -> dict[str, float | None]:
    """Rounded; NaN and infinities (a run that measured nothing) as null, which JSON has."""
    return {k: round(v, digits) if math.isfinite(v) else None for k, v in values.items()}


def runs(directory: Path = RESULTS) -> list[dict[str, Any]]:
    """Every run, oldest first (by date, then file name)."""
    loaded = []
    for path in sorted(directory.glob("*.json")):
        run = json.loads(path.read_text())
        run["file"] = path.name
        loaded.append(run)
    return sorted(loaded, key=lambda run: (run["date"], run["file"]))


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _load(run: dict[str, Any]) -> str:
    loads = run.get("load_1min") or []
    if not loads:
        return "?"
    low, high = min(loads), max(loads)
    return f"{low:.2f}" if low == high else f"{low:.2f}–{high:.2f}"


def table(directory: Path = RESULTS) -> str:
    """Markdown: per script, its newest run of the code as it was (comparison arms, which
    have `variant` set, are left out): its figures, its peers', the ratios, and beside them
    the run's date, load, cores and commit. `~` marks a date the log gave only roughly."""
    latest: dict[str, dict[str, Any]] = {}
    for run in runs(directory):
        if not run.get("variant"):
            latest[run["script"]] = run
    lines = [
        "| script | run (UTC) | load (1 min) | cores | commit | figures | peers | ratios |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for script, run in sorted(latest.items()):
        unit = run["unit"]
        cells = [
            "<br>".join(f"{name}: {_number(value)} {unit}" for name, value in run[kind].items())
            for kind in ("figures", "peers")
        ]
        ratios = "<br>".join(
            f"{name}: {'–' if value is None else f'{value:.0%}'}"
            for name, value in run["ratios"].items()
        )
        date = run["date"].replace("T", " ").removesuffix(":00Z").removesuffix("Z")
        date = f"~{date}" if run.get("date_approximate") else date
        cores = (run.get("machine") or {}).get("cores")
        lines.append(
            f"| `{script}` | {date} | {_load(run)} | {cores if cores is not None else '?'} | "
            f"{run.get('commit') or '?'} | {cells[0] or '–'} | {cells[1] or '–'} | "
            f"{ratios or '–'} |"
        )
    return "\n".join(lines) + "\n"


def readme_table(readme: Path = README) -> str:
    """The table as bench/README.md holds it, between its markers."""
    text = readme.read_text()
    return text.split(START + "\n", 1)[1].split(END, 1)[0]


def write_readme(readme: Path = README) -> None:
    text = readme.read_text()
    head, rest = text.split(START + "\n", 1)
    readme.write_text(head + START + "\n" + table() + END + rest.split(END, 1)[1])


def main(argv: list[str]) -> int:
    if argv[:1] != ["table"] or argv[1:] not in ([], ["--write"]):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1:] == ["--write"]:
        write_readme()
    else:
        sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
