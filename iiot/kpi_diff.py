"""KPI rows against the expected ones (`iiot verify`, the golden scenarios in tests/scenarios/).

A row is a JSON object with its `table`: `oee` (keyed by level, entity_id, window_start),
`digitization` (enterprise_id, window_start) or `deadletter` (counted by key and code). An
expected row names only the columns it vouches for; those are compared, numbers within an
absolute tolerance. Every window of a table (an OEE level) that the expected rows cover must
be there and no other; dead letters are compared as counts per (key, code).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iiot.types import format_ts

TOLERANCE = 1e-6
KEYS = {
    "oee": ("level", "entity_id", "window_start"),
    "digitization": ("enterprise_id", "window_start"),
}


@dataclass(frozen=True, slots=True)
class Difference:
    table: str  # oee:<level>, digitization or deadletter
    key: str  # which row
    column: str  # "(row)" when the row itself is missing or extra
    expected: Any
    actual: Any


def _plain(value: Any) -> Any:
    """A value as JSON has it: times as the messages write them."""
    return format_ts(value) if isinstance(value, datetime) else value


def _group(row: dict[str, Any]) -> str:
    return f"oee:{row['level']}" if row["table"] == "oee" else str(row["table"])


def _ident(row: dict[str, Any]) -> tuple[str, str]:
    return _group(row), " ".join(str(_plain(row[k])) for k in KEYS[row["table"]])


def _same(expected: Any, actual: Any, tolerance: float) -> bool:
    numbers = (int, float)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected is actual or expected == actual)
    if isinstance(expected, numbers) and isinstance(actual, numbers):
        return math.isclose(expected, actual, rel_tol=0.0, abs_tol=tolerance)
    return bool(expected == _plain(actual))


def compare(
    expected: Iterable[dict[str, Any]],
    actual: Iterable[dict[str, Any]],
    tolerance: float = TOLERANCE,
) -> list[Difference]:
    """Every difference, in the expected rows' order, then the extra rows."""
    wanted = list(expected)
    windows = {_ident(r): r for r in actual if r["table"] in KEYS}
    letters = Counter((r.get("key"), r.get("code")) for r in actual if r["table"] == "deadletter")
    found: list[Difference] = []
    covered: set[str] = set()
    for row in (r for r in wanted if r["table"] in KEYS):
        ident = _ident(row)
        covered.add(ident[0])
        held = windows.get(ident)
        if held is None:
            found.append(Difference(*ident, "(row)", "present", "missing"))
            continue
        for column, value in row.items():
            if column in ("table", *KEYS[row["table"]]):
                continue
            if column not in held:
                found.append(Difference(*ident, column, value, "no such column"))
            elif not _same(value, held[column], tolerance):
                found.append(Difference(*ident, column, value, _plain(held[column])))
    expected_ident = {_ident(r) for r in wanted if r["table"] in KEYS}
    for ident in sorted(i for i in windows if i[0] in covered and i not in expected_ident):
        found.append(Difference(*ident, "(row)", "absent", "present"))
    letters_wanted = Counter(
        (r.get("key"), r.get("code")) for r in wanted if r["table"] == "deadletter"
    )
    if letters_wanted:
        for key, code in sorted(letters_wanted.keys() | letters.keys(), key=str):
            if letters_wanted[key, code] != letters[key, code]:
                found.append(
                    Difference("deadletter", f"{key} {code}", "count",
                               letters_wanted[key, code], letters[key, code])
                )  # fmt: skip
    return found
