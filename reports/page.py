"""The shift report as one HTML page: inline CSS and SVG, no script, nothing fetched.

Everything from the database is escaped (html.escape); numbers carry their raw value in
`data-value` beside the text an operator reads, so a test compares them with the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from dashboards import losses
from dashboards.fields import ALARM_VALUES, FIELDS, GREY, REASONS, Band, bands
from dashboards.text import Language, Text, t
from iiot.losses import loss_waterfall
from reports import charts
from reports.numbers import count, duration, percent
from reports.query import Ratios, ShiftData
from reports.shifts import Shift

# Grafana's named colours (dashboards/fields.py uses the names) as CSS can print them.
COLOURS = {
    "red": "#E02F44",
    "green": "#56A64B",
    "yellow": "#F2CC0C",
    "blue": "#3274D9",
    "purple": "#A352CC",
    "orange": "#FF780A",
}
RATIO_KEYS = ("oee", "availability", "performance", "quality")
# Every chart a page draws, by its data-chart name (the tests look for each).
CHARTS = frozenset({*(f"gauge-{k}" for k in RATIO_KEYS), "waterfall", "pareto", "lines"})
TITLE = t("班次报告", "Shift report")
SECTIONS = {
    "kpi": t("OEE 与目标", "OEE against target"),
    "waterfall": t("损失瀑布图", "Loss waterfall"),
    "pareto": t("停机原因（帕累托）", "Downtime by reason (Pareto)"),
    "lines": t("各产线 OEE", "OEE per line"),
    "alarms": t("班次内报警", "Alarms in the shift"),
}
WORDS = {
    "plant": t("工厂", "Plant"),
    "shift": t("班次", "Shift"),
    "range": t("时段", "Range"),
    "generated": t("生成时间", "Generated at"),
    "target": t("目标", "Target"),
    "share": t("累计占比", "Cumulative share"),
    "none": t("无", "None"),
    "no_data": t("本班次无 OEE 数据", "No OEE data in this shift"),
    "device_time": t("设备时间：工厂各设备的时间相加", "Device time: the plant's devices added up"),
}


def colour(name: str) -> str:
    return COLOURS.get(name, name)


def band_colour(value: float | None, band: Band) -> str:
    """The band's colour of a value (dashboards/fields.py: red, amber, green); grey if null."""
    if value is None:
        return GREY
    chosen = "red"
    for threshold, name in band.steps():
        if threshold is None or value >= threshold:
            chosen = name
    return colour(chosen)


class Page:
    """One report in one language."""

    def __init__(self, language: Language, target: float, time_zone: str) -> None:
        self.language = language
        self.target = target
        self.band = bands(target)["oee"]
        self.zone = ZoneInfo(time_zone)

    def local(self, ts: datetime, form: str = "%Y-%m-%d %H:%M") -> str:
        """A time in the shift's time zone (UTC for an explicit range)."""
        return ts.astimezone(self.zone).strftime(form)

    def plain(self, text: Text) -> str:
        """The text in the page's language, unescaped (charts escape their labels)."""
        return text.en if text.zh == text.en else text.render(self.language)  # not "OEE · OEE"

    def say(self, text: Text) -> str:
        """The text in the page's language, escaped for HTML."""
        return escape(self.plain(text))

    def reason(self, code: str) -> str:
        """A stop reason's name (a conventional code, dashboards/fields.py), else the code."""
        named = REASONS.get(code)
        return self.plain(named[0]) if named else code

    def name(self, key: str) -> str:
        """A column's name (dashboards/fields.py), unescaped."""
        return self.plain(FIELDS[key].name)

    def render(self, data: ShiftData, shift: Shift, generated_at: datetime) -> str:
        local = self.local
        lang = "zh" if self.language != "en" else "en"
        head = [
            (WORDS["plant"], f"{data.plant_id} · {data.enterprise_name}"),
            (WORDS["shift"], shift.name or "–"),
            (WORDS["range"], f"{local(data.start)} – {local(data.end)} ({shift.time_zone})"),
            (WORDS["generated"], local(generated_at)),
        ]
        header = "".join(
            f'<div><dt>{self.say(k)}</dt><dd data-key="{key}">{escape(v)}</dd></div>'
            for (k, v), key in zip(head, ("plant", "shift", "range", "generated"), strict=True)
        )
        return (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{self.say(TITLE)} {escape(data.plant_id)}</title><style>{CSS}</style>"
            f'</head><body><header><h1>{self.say(TITLE)}</h1><dl class="meta">{header}</dl>'
            f"</header>{self.kpis(data.totals)}{self.waterfall(data)}{self.pareto(data)}"
            f"{self.lines(data)}{self.alarms(data)}</body></html>"
        )

    def section(self, key: str, body: str, note: str = "") -> str:
        extra = f'<p class="note">{note}</p>' if note else ""
        return f'<section id="{key}"><h2>{self.say(SECTIONS[key])}</h2>{extra}{body}</section>'

    def kpis(self, totals: Ratios) -> str:
        tiles = []
        for key in RATIO_KEYS:
            value = getattr(totals, key)
            tint = band_colour(value, self.band)
            name = self.name(key)
            tiles.append(
                f'<div class="tile" style="border-color:{tint}">'
                f'<div class="name">{escape(name)}</div>'
                f'<div class="value" data-key="{key}" data-value="{_raw(value)}" '
                f'style="color:{tint}">{percent(value)}</div>'
                + charts.gauge(
                    f"gauge-{key}",
                    name,
                    value,
                    self.target,
                    tint,
                    f"{self.plain(WORDS['target'])} {percent(self.target)}",
                )
                + "</div>"
            )
        note = "" if totals.oee is not None else self.say(WORDS["no_data"])
        return self.section("kpi", f'<div class="tiles">{"".join(tiles)}</div>', note)

    def waterfall(self, data: ShiftData) -> str:
        """The dashboards' waterfall (dashboards/losses.py): the same names and colours."""
        steps = [
            charts.Bar(self.plain(losses.STEPS[s.key]), s.seconds,
                       colour(losses.COLOURS[losses.KINDS[s.key]]), duration(s.seconds),
                       start=s.start, key=s.key)
            for s in loss_waterfall(data.parts)
        ]  # fmt: skip
        title = self.plain(SECTIONS["waterfall"])
        chart = charts.waterfall("waterfall", title, steps)
        return self.section("waterfall", chart, self.say(WORDS["device_time"]))

    def pareto(self, data: ShiftData) -> str:
        bars = [
            charts.Bar(self.reason(r.reason), r.lost_s, colour("red"), duration(r.lost_s))
            for r in data.reasons
        ]
        shares = charts.pareto_shares([r.lost_s for r in data.reasons])
        rows = [
            [
                _cell("reason", r.reason, self.reason(r.reason)),
                _cell("lost_s", r.lost_s, duration(r.lost_s)),
                _cell("episodes", r.episodes, count(r.episodes)),
                _cell("share", share, percent(share)),
            ]
            for r, share in zip(data.reasons, shares, strict=True)
        ]
        names = [
            self.name("reason"),
            self.name("lost_s"),
            self.name("episodes"),
            self.plain(WORDS["share"]),
        ]
        chart = charts.pareto("pareto", self.plain(SECTIONS["pareto"]), bars, colour("blue"))
        note = "" if rows else self.say(WORDS["none"])
        return self.section("pareto", chart + self.table("reasons", names, rows), note)

    def lines(self, data: ShiftData) -> str:
        bars = [
            charts.Bar(
                row.line,
                row.ratios.oee or 0.0,
                band_colour(row.ratios.oee, self.band),
                percent(row.ratios.oee),
            )
            for row in data.lines
        ]
        chart = charts.hbars(
            "lines",
            self.plain(SECTIONS["lines"]),
            bars,
            scale=1.0,
            mark=self.target,
            mark_text=self.plain(WORDS["target"]),
        )
        rows = [
            [_cell("line", row.line, row.line)]
            + [self.ratio_cell(key, getattr(row.ratios, key)) for key in RATIO_KEYS]
            + [
                _cell("planned_s", row.planned_s, duration(row.planned_s)),
                _cell("good", row.good, count(row.good)),
                _cell("scrap", row.scrap, count(row.scrap)),
            ]
            for row in data.lines
        ]
        keys = ["line", *RATIO_KEYS, "planned_s", "good", "scrap"]
        table = self.table("lines", [self.name(k) for k in keys], rows)
        return self.section("lines", chart + table, "" if rows else self.say(WORDS["none"]))

    def ratio_cell(self, key: str, value: float | None) -> str:
        return _cell(key, value, percent(value), band_colour(value, self.band))

    def alarms(self, data: ShiftData) -> str:
        rows = []
        for a in data.alarms:
            kind = ALARM_VALUES["kind"].get(a.kind)
            status = ALARM_VALUES["status"].get(a.status)
            rows.append(
                [
                    _cell("time", a.ts.isoformat(), self.local(a.ts, _clock(a.ts, data.start))),
                    _cell("device", a.device_id, a.device_id),
                    _cell("line", a.line_id, a.line_id),
                    _cell(
                        "kind",
                        a.kind,
                        kind[0].render(self.language) if kind else a.kind,
                        colour(kind[1]) if kind else "",
                    ),
                    _cell(
                        "status",
                        a.status,
                        status[0].render(self.language) if status else a.status,
                        colour(status[1]) if status else "",
                    ),
                    _cell("value", a.value, "–" if a.value is None else f"{a.value:g}"),
                    _cell(
                        "threshold", a.threshold, "–" if a.threshold is None else f"{a.threshold:g}"
                    ),
                    _cell("message", a.message, a.message),
                ]
            )
        keys = ["time", "device", "line", "kind", "status", "value", "threshold", "message"]
        body = self.table("alarms", [self.name(k) for k in keys], rows)
        return self.section("alarms", body, "" if rows else self.say(WORDS["none"]))

    def table(self, name: str, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in heads)
        body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
        return (
            f'<table data-table="{name}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )


def _clock(ts: datetime, start: datetime) -> str:
    """Times in the shift show the clock; an episode inherited from before it, the date too."""
    return "%H:%M:%S" if ts >= start else "%m-%d %H:%M:%S"


def _raw(value: object) -> str:
    return "" if value is None else escape(repr(value) if isinstance(value, float) else str(value))


def _cell(key: str, value: object, text: str, tint: str = "") -> str:
    style = f' style="color:{tint}"' if tint else ""
    return f'<td data-key="{key}" data-value="{_raw(value)}"{style}>{escape(text)}</td>'


def render(
    data: ShiftData, shift: Shift, *, language: Language, target: float, generated_at: datetime
) -> str:
    return Page(language, target, shift.time_zone).render(data, shift, generated_at)


CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC",
  sans-serif; color: #222; margin: 0 auto; max-width: 190mm; padding: 8px; font-size: 12px; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 15px; margin: 14px 0 6px; border-bottom: 1px solid #ccc; }
dl.meta { display: grid; grid-template-columns: repeat(2, auto); gap: 2px 16px; margin: 0; }
dl.meta div { display: flex; gap: 6px; } dt { color: #666; } dd { margin: 0; font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; }
.tile { border: 2px solid; border-radius: 4px; padding: 6px; break-inside: avoid; }
.tile .name { color: #555; } .tile .value { font-size: 22px; font-weight: 700; }
.tile svg { width: 100%; height: auto; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 4px 0; }
svg text { font-size: 11px; fill: #222; } svg text.small { font-size: 10px; }
svg .track { fill: #eee; } svg .axis { stroke: #999; }
svg .target { stroke: #222; stroke-width: 1.5; stroke-dasharray: 4 3; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 5px; text-align: left; }
td { white-space: nowrap; } td[data-key="message"] { white-space: normal; }
th { background: #f4f4f4; font-weight: 600; }
td[data-value] { font-variant-numeric: tabular-nums; }
section { break-inside: avoid; } .note { color: #666; margin: 2px 0; }
@media print { body { padding: 0; } section { page-break-inside: avoid; } }
"""
