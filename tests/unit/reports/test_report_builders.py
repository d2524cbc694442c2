"""The shift report's builders (reports/): numbers as written, SVG charts, shift instances
and the page, on hand-made data; no database, no browser."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards.fields import bands
from dashboards.text import Language
from reports import charts, page, pdf
from reports.numbers import count, duration, percent
from reports.query import AlarmRow, LineRow, Ratios, Reason, ShiftData
from reports.shifts import PlantShift, Shift, ShiftError, choose, last_completed

HOSTILE = '<img src=x onerror="alert(1)"> & \'"'
EARLY = PlantShift("early", "早班", time(6), time(14), "Asia/Shanghai")
NIGHT = PlantShift("night", "夜班", time(22), time(6), "Asia/Shanghai")


def test_numbers_as_operators_read_them() -> None:
    assert percent(0.5966) == "59.7 %"
    assert percent(None) == "–"
    assert duration(45.4) == "45 s"
    assert duration(725) == "12 min 05 s"
    assert duration(3 * 3600 + 7 * 60 + 59) == "3 h 07 min"
    assert count(12345.0) == "12,345"


def test_pareto_shares_are_cumulative() -> None:
    # 65 + 30 + 10 + 5 = 110
    assert charts.pareto_shares([65, 30, 10, 5]) == pytest.approx(
        [65 / 110, 95 / 110, 105 / 110, 1]
    )
    assert charts.pareto_shares([]) == []
    assert charts.pareto_shares([0, 0]) == [0.0, 0.0]


def test_band_colours_follow_the_dashboards_bands() -> None:
    band = bands(0.85)["oee"]  # red below 0.60, amber to 0.85, green from 0.85
    assert page.band_colour(0.59, band) == page.COLOURS["red"]
    assert page.band_colour(0.60, band) == "#EAB839"
    assert page.band_colour(0.85, band) == page.COLOURS["green"]
    assert page.band_colour(None, band) == "#8E8E8E"


def _bars(svg: str) -> list[tuple[float, float, float, float, str]]:
    """(x, y, width, height, data-value) of every bar."""
    found = re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="[^"]+" '
        r'data-key="[^"]*" data-value="([^"]+)"',
        svg,
    )
    return [(float(x), float(y), float(w), float(h), v) for x, y, w, h, v in found]


def test_waterfall_floats_each_loss_where_it_takes_off() -> None:
    steps = [
        charts.Bar("Planned", 100, "grey", "100", key="planned"),
        charts.Bar("Down", 25, "red", "25", start=75, key="down"),
        charts.Bar("Run", 75, "grey", "75", key="run"),
    ]
    bars = _bars(charts.waterfall("waterfall", "t", steps))
    # labels 12 + 7 × 6.2 px wide; the 300 px plot is 100 s: the loss spans 75–100 s
    left = 12 + 7 * 6.2
    assert [(x, w, v) for x, _, w, _, v in bars] == [
        (pytest.approx(left, abs=0.05), 300.0, "100"),
        (pytest.approx(left + 225, abs=0.05), 75.0, "25"),
        (pytest.approx(left, abs=0.05), 225.0, "75"),
    ]


def test_hbars_scale_and_the_target_line() -> None:
    svg = charts.hbars(
        "lines", "t", [charts.Bar("L1", 0.5, "red", "50 %")], scale=1.0, mark=0.85, mark_text="T"
    )
    (x, _, width, _, value) = _bars(svg)[0]
    assert (x, width, value) == (24.4, 150.0, "0.5")  # labels 12 + 2 × 6.2 px; half the plot
    assert '<line x1="279.4"' in svg  # 24.4 + 0.85 × 300


def test_labels_are_escaped_in_charts() -> None:
    svg = charts.pareto("pareto", HOSTILE, [charts.Bar(HOSTILE, 1.0, "red", HOSTILE)], "blue")
    assert "<img" not in svg and "&lt;img" in svg


def test_shift_instances_cross_midnight_in_the_plants_zone() -> None:
    # Shanghai is UTC+8: the early shift of 5 Dec is 22:00–06:00 UTC
    assert EARLY.on(date(2026, 12, 5)) == (
        datetime(2026, 12, 4, 22, tzinfo=UTC),
        datetime(2026, 12, 5, 6, tzinfo=UTC),
    )
    # the night shift of 5 Dec: 22:00 on the 5th to 06:00 on the 6th, local
    assert NIGHT.on(date(2026, 12, 5)) == (
        datetime(2026, 12, 5, 14, tzinfo=UTC),
        datetime(2026, 12, 5, 22, tzinfo=UTC),
    )


def test_the_default_is_the_last_completed_shift() -> None:
    now = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)  # 07:00 on the 6th in Shanghai
    assert last_completed([EARLY, NIGHT], now) == (NIGHT, date(2026, 12, 5))
    chosen = choose("p1", [EARLY, NIGHT], None, now)
    assert (chosen.name, chosen.start, chosen.end) == (
        "2026-12-05 夜班 (night)",
        datetime(2026, 12, 5, 14, tzinfo=UTC),
        datetime(2026, 12, 5, 22, tzinfo=UTC),
    )
    # by name or id, with or without a date
    assert choose("p1", [EARLY, NIGHT], "early", now).start == datetime(2026, 12, 4, 22, tzinfo=UTC)
    assert choose("p1", [EARLY, NIGHT], "2026-12-01/早班", now).name == "2026-12-01 早班 (early)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "late",
            "plant p1 has no shift 'late'; its shifts: early (早班, 06:00–14:00), "
            "night (夜班, 22:00–06:00)",
        ),
        ("5.12./early", "'5.12.' is no date (YYYY-MM-DD) in --shift 5.12./early"),
    ],
)
def test_unknown_shifts_say_what_exists(spec: str, message: str) -> None:
    with pytest.raises(ShiftError, match=re.escape(message)):
        choose("p1", [EARLY, NIGHT], spec, datetime(2026, 12, 5, tzinfo=UTC))


def test_a_plant_without_a_calendar_needs_a_range() -> None:
    with pytest.raises(ShiftError, match=re.escape("no shift calendar (v_plant_shift); give --")):
        choose("p1", [], None, datetime(2026, 12, 5, tzinfo=UTC))


START = datetime(2026, 12, 5, 22, tzinfo=UTC)
DATA = ShiftData(
    plant_id="qd-t-p1",
    enterprise_name=HOSTILE,
    start=START,
    end=datetime(2026, 12, 6, 6, tzinfo=UTC),
    totals=Ratios(0.75, 75 / 90, 21 / 22, 75 * 21 / 22 / 120),
    parts={
        "planned_s": 120,
        "run_s": 90,
        "idle_s": 5,
        "setup_s": 10,
        "down_s": 15,
        "ideal_run_s": 75,
        "count_total": 22,
        "count_good": 21,
        "planned_stop_s": 0,
        "unknown_s": 0,
    },
    lines=[LineRow("qd-t-p1-l1", Ratios(0.0, None, 7 / 8, 0.45), 105, 7, 1)],
    reasons=[Reason("breakdown", 65, 3), Reason(HOSTILE, 5, 1)],
    alarms=[AlarmRow(START, "m01", "qd-t-p1-l1", "down_too_long", "raised", 420, 300, HOSTILE)],
)


class Elements(HTMLParser):
    """The tags of a page, and whether it parses without a script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("language", ["zh", "en", "both"])
def test_the_page_is_self_contained_and_escaped(language: Language) -> None:
    html = page.render(
        DATA,
        Shift("qd-t-p1", "2026-12-06 早班 (early)", DATA.start, DATA.end, "Asia/Shanghai"),
        language=language,
        target=0.85,
        generated_at=START,
    )
    parsed = Elements()
    parsed.feed(html)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "link", "iframe"}  # nothing runs, nothing is fetched
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    charts_drawn = {a["data-chart"] for t, a in parsed.tags if t == "svg"}
    assert (
        charts_drawn
        == page.CHARTS
        == {
            "gauge-oee",
            "gauge-availability",
            "gauge-performance",
            "gauge-quality",
            "waterfall",
            "pareto",
            "lines",
        }
    )
    values = {
        a["data-key"]: a["data-value"]
        for t, a in parsed.tags
        if a.get("data-key") in ("oee", "availability") and t == "div"
    }
    assert values == {"oee": repr(75 * 21 / 22 / 120), "availability": "0.75"}
    assert "2026-12-06 06:00 – 2026-12-06 14:00 (Asia/Shanghai)" in html  # local times
    assert "&lt;img src=x" in html and "<img" not in html and "&amp;lt;" not in html  # once
    assert ("停机过久" in html) == (language != "en")
    assert ("Down too long" in html) == (language != "zh")
    # a conventional reason by its name, its code kept for readers of the page's data
    assert ("设备故障" in html) == (language != "en")
    assert ("Breakdown" in html) == (language != "zh")
    assert 'data-key="reason" data-value="breakdown"' in html


def test_without_chromium_one_line_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    with pytest.raises(pdf.PdfError) as raised:
        pdf.print_pdf("<p>x</p>", tmp_path / "x.pdf")
    assert str(raised.value) == (
        "no Chromium to print the PDF with; install Debian's chromium: "
        "`deploy/local/stack.sh tools` (as root)"
    )
