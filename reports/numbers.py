"""How the report writes its numbers: percentages, durations, counts."""

from __future__ import annotations


def percent(value: float | None) -> str:
    """A ratio as a percentage with one decimal; "–" when undefined (nothing planned)."""
    return "–" if value is None else f"{value * 100:.1f} %"


def duration(seconds: float) -> str:
    """Seconds as an operator reads them: "45 s", "12 min 05 s", "3 h 07 min"."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def count(value: float) -> str:
    """A whole count with thousands separators."""
    return f"{round(value):,}"
