"""The fault matrix's bookkeeping: a run's names, one whole run, its figures against the
baseline, and the summary every scenario adds them to (`.faults/last-run.json`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iiot.settings import Settings
from tests.faults import outcome
from tests.faults.outcome import Snapshot
from tests.faults.pipeline import GOOD_STREAM, Run, discard, notable_lines

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / ".faults"
SUMMARY = OUT / "last-run.json"
SESSION = uuid.uuid4().hex[:6]


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


class Matrix:
    """Figures of each scenario, written after each one so a stopped session keeps them;
    scenarios not run this time keep the figures of their last run."""

    def __init__(self) -> None:
        shutil.rmtree(OUT / "runs", ignore_errors=True)
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
        self.commit = _git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")

    def add(self, name: str, figures: dict[str, Any]) -> None:
        try:  # read again: what other scenarios wrote meanwhile stays
            scenarios = json.loads(SUMMARY.read_text())["scenarios"]
        except (OSError, ValueError, KeyError):
            scenarios = {}
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        scenarios[name] = {"date": when, "commit": self.commit, **figures}
        doc = {"good_stream": GOOD_STREAM, "scenarios": scenarios}
        OUT.mkdir(exist_ok=True)
        SUMMARY.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def settings_for(name: str, base: Settings, **overrides: object) -> Settings:
    """A run's own topic prefix and schema."""
    values = {
        "topic_prefix": f"faults-{SESSION}-{name}.",
        "pg_schema": f"faults_{SESSION}_{name}".replace("-", "_"),
        **overrides,
    }
    return base.model_copy(update=values)


def execute(
    name: str,
    settings: Settings,
    scenario: Callable[[Run], None] | None,
    *,
    workers: int = 1,
) -> tuple[Run, Snapshot]:
    """One whole run: its topics and schema made, the run, what it left, all dropped."""
    run = Run(name, settings, OUT / "runs" / name)
    run.prepare()
    try:
        run.run(scenario, workers)
        return run, outcome.snapshot(settings)
    finally:
        discard(settings)


def expected_bad(run: Run) -> int:
    """Bad records the simulator sent: its malformed samples and its skewed clocks."""
    injected = (run.simulator or {}).get("injected", {})
    return int(injected.get("malformed", 0)) + int(injected.get("clock_skew", 0))


def figures_of(run: Run, compared: dict[str, Any]) -> dict[str, Any]:
    sim = run.simulator or {}
    return {
        "sent": sim.get("sent"),
        "samples": sim.get("injected", {}).get("samples"),
        **compared,
        "crashes": run.crashes,
        "drained": run.drained,
        "duration_s": round(run.duration_s),
        "events": run.events,
        "logs": str(run.home.relative_to(REPO)),
    }


def judge(
    name: str, run: Run, snap: Snapshot, base: Snapshot, matrix: Matrix, **known: Any
) -> None:
    """Compare with the baseline, record the figures, fail with every problem found."""
    extra_bad = len(known.get("bad", ()))
    compared = outcome.compare(base, snap, expected_bad=expected_bad(run) + extra_bad, **known)
    figures = figures_of(run, compared)
    figures["problems"] = outcome.problems(figures)
    matrix.add(name, figures)
    if figures["problems"]:
        logs = [f"--- {part}'s log, its last lines:\n" + "\n".join(lines)
                for part, lines in run.crash_logs.items()]  # fmt: skip
        for worker in [p for p in run.parts if p.startswith("stream")] if not logs else []:
            lines = notable_lines(run.home / f"{worker}.log")
            logs.append(f"--- {worker}'s log, its notable lines:\n" + "\n".join(lines))
        pytest.fail("\n".join([*figures["problems"], *logs]), pytrace=False)
