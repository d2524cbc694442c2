"""Benchmark runs are data: every file in bench/results/ is a whole run, and the table in
bench/README.md is what `python bench/results.py table` makes of them."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[3]
RUNS = sorted((ROOT / "bench" / "results").glob("*.json"))
KEYS = {"script", "date", "command", "commit", "machine", "load_1min", "unit", "figures"}
KEYS |= {"peers", "ratios", "variant", "note"}


def bench_results() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_results", ROOT / "bench" / "results.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_the_generated_one() -> None:
    results = bench_results()
    assert results.readme_table() == results.table(), (
        "bench/README.md's table is stale: run `python bench/results.py table --write`"
    )


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.name)
def test_every_run_is_whole(path: Path) -> None:
    run = json.loads(path.read_text())
    assert set(run) >= KEYS, f"lacks {KEYS - set(run)}"
    assert (ROOT / run["script"]).is_file()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", run["date"])
    assert set(run["machine"]) == {"cores", "memory_bytes", "cpu_model"}
    assert run["load_1min"] is None or all(isinstance(x, int | float) for x in run["load_1min"])
    assert run["figures"] or run["peers"], "a run without figures"
    for kind in ("figures", "peers", "ratios"):
        assert all(v is None or isinstance(v, int | float) for v in run[kind].values()), kind


def test_a_run_is_recorded_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = bench_results()
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench/sink.py", "--rows", "10"])
    path = results.record(
        "bench/sink.py",
        "rows/s",
        figures={"iiot sink from Kafka (steady)": 120_000.0},
        peers={"bare COPY from a file (ceiling)": 200_000.0},
        ratios={"iiot sink from Kafka (steady) / bare COPY from a file (ceiling)": 0.6},
        loads=[1.234],
    )
    run = json.loads(path.read_text())
    assert set(run) >= KEYS
    assert run["command"].endswith("bench/sink.py --rows 10")
    assert run["machine"]["cores"] and run["load_1min"][0] == 1.23 and len(run["load_1min"]) == 2
    assert run["commit"] is None or re.fullmatch(r"[0-9a-f]{12}(-dirty)?", run["commit"])
    assert "| `bench/sink.py` |" in results.table(tmp_path)
    assert "120,000 rows/s" in results.table(tmp_path)
