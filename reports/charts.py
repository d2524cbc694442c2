"""The report's charts as inline SVG strings: no script, no fonts fetched, printable.

Every chart is an `<svg class="chart" data-chart="NAME">` with a fixed viewBox; every bar
carries its number (`data-value`) so a test reads what is drawn. Labels are escaped here:
callers pass plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    colour: str
    text: str  # the value as shown (formatted by the caller)
    start: float = 0.0  # where a floating bar (a waterfall's loss) begins
    key: str = ""  # data-key; the label if empty


def text_width(text: str) -> float:
    """About how wide `text` is drawn at 11 px: Chinese characters take a full em."""
    return sum(11.0 if ord(c) >= 0x2E80 else 6.2 for c in text)


def _svg(name: str, width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, colour: str, value: float, key: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{escape(colour)}" data-key="{escape(key)}" data-value="{value!r}"/>'
    )


def gauge(name: str, title: str, value: float | None, target: float, colour: str, text: str) -> str:
    """A ratio as a bar on 0–100 % with the target as a tick (an empty track when null)."""
    # About a tile's width on the page (A4, four tiles), so its text is drawn near 10 px.
    width, height, top, bar_h = 160.0, 34.0, 4.0, 16.0
    body = [f'<rect x="0" y="{top}" width="{width}" height="{bar_h}" class="track"/>']
    if value is not None:
        body.append(_rect(0, top, width * min(max(value, 0.0), 1.0), bar_h, colour, value, name))
    x = width * target
    body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{top + bar_h + 4}" class="target"/>')
    body.append(_text(0, height - 2, text, "start", "small"))
    return _svg(name, width, height, body, title)


def hbars(
    name: str,
    title: str,
    bars: Sequence[Bar],
    *,
    scale: float,
    mark: float | None = None,
    mark_text: str = "",
) -> str:
    """Horizontal bars, one row each, on 0–`scale`, each from its `start`; `mark` draws a
    dashed line (a target)."""
    plot_w, row_h, top = 300.0, 22.0, 18.0
    label_w = 12 + max((text_width(b.label) for b in bars), default=0.0)
    width, height = label_w + plot_w + 80, top + 4 + row_h * max(len(bars), 1)
    body: list[str] = []
    for n, bar in enumerate(bars):
        y = top + n * row_h
        x = label_w + (plot_w * bar.start / scale if scale > 0 else 0.0)
        w = plot_w * min(max(bar.value, 0.0), scale) / scale if scale > 0 else 0.0
        body.append(_text(label_w - 6, y + 13, bar.label, "end"))
        body.append(_rect(x, y + 2, w, row_h - 6, bar.colour, bar.value, bar.key or bar.label))
        body.append(_text(x + w + 4, y + 13, bar.text))
    if mark is not None and scale > 0:
        x = label_w + plot_w * mark / scale
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height}" class="target"/>'
        )
        body.append(_text(x, top - 7, mark_text, "middle", "small"))
    return _svg(name, width, height, body, title)


def waterfall(name: str, title: str, steps: Sequence[Bar]) -> str:
    """A step a row, top to bottom; each loss floats where it takes off (iiot/losses.py)."""
    scale = max((s.start + s.value for s in steps), default=0.0)
    return hbars(name, title, steps, scale=scale)


def pareto_shares(values: Sequence[float]) -> list[float]:
    """The cumulative share of the total after each value (largest first, as given)."""
    total = sum(values)
    shares, running = [], 0.0
    for value in values:
        running += value
        shares.append(running / total if total > 0 else 0.0)
    return shares


def pareto(name: str, title: str, bars: Sequence[Bar], colour_line: str) -> str:
    """Bars largest first with the cumulative share as a line on a 0–100 % right axis."""
    plot_h, col_w, gap, top, bottom, right = 160.0, 56.0, 10.0, 16.0, 50.0, 36.0
    width = 10 + max(len(bars), 1) * (col_w + gap) + right
    height = top + plot_h + bottom
    scale = max((b.value for b in bars), default=0.0)
    base = top + plot_h
    body = [
        f'<line x1="0" x2="{width - right}" y1="{base}" y2="{base}" class="axis"/>',
        f'<line x1="{width - right}" x2="{width - right}" y1="{top}" y2="{base}" class="axis"/>',
        _text(width - right + 3, top + 4, "100%", "start", "small"),
        _text(width - right + 3, base, "0%", "start", "small"),
    ]
    names = [_wrap(b.label, 10) for b in bars]
    value_y = base + 16 + 12 * max((len(lines) for lines in names), default=1)
    points = []
    for n, (bar, share, name_lines) in enumerate(
        zip(bars, pareto_shares([b.value for b in bars]), names, strict=True)
    ):
        x = 10 + n * (col_w + gap)
        h = plot_h * bar.value / scale if scale > 0 else 0.0
        body.append(_rect(x, base - h, col_w, h, bar.colour, bar.value, bar.label))
        for line, part in enumerate(name_lines):
            body.append(_text(x + col_w / 2, base + 14 + 12 * line, part, "middle", "small"))
        # Under the names, not over the bar, where the cumulative line would cross it.
        body.append(_text(x + col_w / 2, value_y, bar.text, "middle", "small"))
        points.append((x + col_w / 2, base - plot_h * share))
    if points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{escape(colour_line)}" '
            'stroke-width="2" class="cumulative"/>'
        )
        body += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{escape(colour_line)}"/>'
            for px, py in points
        ]
    return _svg(name, width, height, body, title)


def _wrap(label: str, size: int) -> list[str]:
    """A long label in two lines, broken at its first separator ("停机 · Down", "no_material")."""
    if len(label) <= size:
        return [label]
    for sep in (" · ", " ", "_"):
        head, found, tail = label.partition(sep)
        if found and head:
            return [head, tail]
    return [label]
