"""`iiot report` on known data in the real PostgreSQL, the page opened in real headless
Chromium (Debian's, through its WebDriver): every chart drawn, no console error, and the
numbers on the page equal the ones worked out by hand, which the database gives too.

The data: test_downtime's hand case (one line, two devices; its downtime by reason), plus
two plant windows, six alarm edges and a shift calendar written here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from iiot.settings import Settings
from reports import page, query
from sinks.migrate import migrate
from tests.integration import test_downtime as hand
from tests.integration.chromium import open_chromium
from tests.integration.pglite_server import pglite_timescaledb
from tests.invoke import iiot

pytestmark = pytest.mark.integration

PLANT = "qd-t-p1"
# Two plant windows: (minute, run, idle, setup, down, ideal run, parts, good); planned =
# run + idle + setup + down = 60 s each.
PLANT_WINDOWS = [(0, 40, 5, 10, 5, 30, 10, 9), (1, 50, 0, 0, 10, 45, 12, 12)]
# Summed: planned 120, run 90, ideal 75, 22 parts, 21 good.
# A = 90/120, P = 75/90, Q = 21/22, OEE = 75 × 21/22 / 120.
TOTALS = {
    "availability": 0.75,
    "performance": 75 / 90,
    "quality": 21 / 22,
    "oee": 75 * 21 / 22 / 120,
}
# The line's windows (test_downtime): run 0 s, so A 0 and P undefined; OEE 54 × 7/8 / 105.
LINE = {"oee": 0.45, "availability": 0.0, "performance": None, "quality": 7 / 8}
# The waterfall (iiot/losses.py) from the plant's parts: planned, down, setup, idle, run,
# speed, quality, fully productive.
WATERFALL = [120, 15, 10, 5, 90, 15, 75 / 22, 75 * 21 / 22]
HOSTILE = "<script>window.bad = 1</script> & 'quotes'"
# (seconds from 08:00, raised at, kind, status, message): the range's two edges and the open
# episode it inherits are shown; one cleared before the range and one after it are not.
ALARMS = [
    (20, 20, "down_too_long", "raised", HOSTILE),
    (80, 20, "down_too_long", "cleared", "back up"),
    (200, 200, "offline", "raised", "later"),
    (-600, -600, "offline", "raised", "inherited"),
    (-900, -900, "oee_low", "raised", "over before"),
    (-700, -900, "oee_low", "cleared", "over before"),
]
SHOWN = ["inherited", HOSTILE, "back up"]


# A shift of the plant that is exactly the range: 16:00–16:02 in Shanghai (UTC+8) on 5 Jan.
CALENDAR = '[{"id": "t", "name": "试班", "start": "16:00", "end": "16:02"}]'


def _insert(conn: psycopg.Connection, *, plain: bool = True) -> None:
    hand.insert_hand_case(conn, plain=plain)
    conn.execute(
        "INSERT INTO plant_calendar VALUES (%s, 'Asia/Shanghai', %s, %s)",
        (PLANT, CALENDAR, hand.T0),
    )
    for minute, run, idle, setup, down, ideal, parts, good in PLANT_WINDOWS:
        conn.execute(
            "INSERT INTO oee VALUES ('plant', %s, %s, %s, 0, 2, 0, 0, %s, %s, %s, %s, 0, 0, %s, "
            "%s, %s, %s, null, null, null, null, false)",
            (
                PLANT,
                hand._at(60 * minute),
                hand._at(60 * minute + 60),
                run,
                idle,
                setup,
                down,
                run + idle + setup + down,
                ideal,
                parts,
                good,
            ),
        )
    for at, raised_at, kind, status, message in ALARMS:
        conn.execute(
            "INSERT INTO alarm VALUES (%s, %s, %s, %s, %s, 420, 300, %s)",
            (hand.A, kind, hand._at(raised_at), status, hand._at(at), message),
        )


@pytest.fixture
def schema(migrator: psycopg.Connection, settings: Settings, schemas: Callable[[str], str]) -> str:
    name = schemas("report")
    assert migrate(migrator, name, settings)[0] == "plain"
    migrator.execute(f"SET search_path TO {name}")
    _insert(migrator)
    return name


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Debian's Chromium through Debian's chromedriver (tests/integration/chromium.py)."""
    driver = open_chromium(1000, 1400)
    yield driver
    driver.quit()


def _report(schema: str, out: Path, *more: str) -> str:
    end = hand.T0 + timedelta(minutes=2)
    result = iiot(
        "report",
        "--plant",
        PLANT,
        "--from",
        hand.T0.isoformat(),
        "--to",
        end.isoformat(),
        "--schema",
        schema,
        "--out",
        str(out),
        *more,
    )
    assert result.exit_code == 0, result.output
    return result.output


def _value(element: WebElement) -> float | None:
    raw = element.get_attribute("data-value")
    return None if raw in (None, "") else float(raw)


def _approx(values: dict[str, float | None]) -> dict[str, object]:
    return {k: None if v is None else pytest.approx(v) for k, v in values.items()}


def test_report_renders_every_chart_with_the_databases_numbers(
    schema: str, reader: psycopg.Connection, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    out = tmp_path / "report.html"
    printed = _report(schema, out, "--pdf", str(tmp_path / "report.pdf"), "--language", "en")
    assert "wrote" in printed
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    browser.get(out.resolve().as_uri())
    charts = {
        c.get_attribute("data-chart"): c
        for c in browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    }
    assert set(charts) == page.CHARTS
    for name, chart in charts.items():
        assert chart.size["width"] > 0 and chart.size["height"] > 0, name
        bars = chart.find_elements(By.CSS_SELECTOR, "rect[data-value]")
        assert bars and any(b.size["height"] > 0 and b.size["width"] > 0 for b in bars), name
    assert browser.get_log("browser") == []  # no console error, no warning
    assert browser.execute_script("return window.bad") is None  # the message was escaped

    tiles = browser.find_elements(By.CSS_SELECTOR, "#kpi .value")
    assert {t.get_attribute("data-key"): _value(t) for t in tiles} == _approx(TOTALS)
    # The same numbers straight from the database, as the reader
    a, p, q, oee = reader.execute(
        f"SELECT sum(run_s) / sum(planned_s), sum(ideal_run_s) / sum(run_s), "
        f"sum(count_good)::float8 / sum(count_total), "
        f"sum(ideal_run_s) * sum(count_good) / sum(count_total) / sum(planned_s) "
        f"FROM {schema}.v_oee WHERE level = 'plant' AND entity_id = %s",
        (PLANT,),
    ).fetchone()
    assert _approx({"availability": a, "performance": p, "quality": q, "oee": oee}) == TOTALS

    steps = browser.find_elements(By.CSS_SELECTOR, "svg[data-chart=waterfall] rect[data-value]")
    assert [_value(s) for s in steps] == [pytest.approx(v) for v in WATERFALL]

    reasons = [
        [c.get_attribute("data-value") for c in row.find_elements(By.TAG_NAME, "td")][:3]
        for row in browser.find_elements(By.CSS_SELECTOR, "table[data-table=reasons] tbody tr")
    ]
    assert [(r, float(s), int(e)) for r, s, e in reasons] == [
        (reason, pytest.approx(lost), episodes) for reason, lost, episodes, _ in hand.REASONS
    ]
    bars = browser.find_elements(By.CSS_SELECTOR, "svg[data-chart=pareto] rect[data-value]")
    assert [_value(b) for b in bars] == [pytest.approx(r[1]) for r in hand.REASONS]

    line_cells = browser.find_elements(By.CSS_SELECTOR, "table[data-table=lines] td")
    shown = {c.get_attribute("data-key"): c for c in line_cells}
    assert shown["line"].text == hand.LINE
    assert {k: _value(shown[k]) for k in LINE} == _approx(LINE)

    alarm_rows = browser.find_elements(By.CSS_SELECTOR, "table[data-table=alarms] tbody tr")
    messages = [r.find_element(By.CSS_SELECTOR, "td[data-key=message]").text for r in alarm_rows]
    assert messages == SHOWN  # the hostile one as text


def test_unknown_plant_is_one_line_listing_the_plants(schema: str, tmp_path: Path) -> None:
    result = iiot(
        "report",
        "--plant",
        "nowhere",
        "--from",
        hand.T0.isoformat(),
        "--to",
        (hand.T0 + timedelta(minutes=2)).isoformat(),
        "--schema",
        schema,
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"error: unknown plant 'nowhere'; plants: {PLANT}"


def test_pdf_only_with_a_pdf_name(schema: str, tmp_path: Path) -> None:
    out = tmp_path / "shift.pdf"
    _report(schema, out, "--language", "zh")
    assert out.read_bytes().startswith(b"%PDF")
    assert list(tmp_path.iterdir()) == [out]


def test_a_shift_by_date_and_name_reads_its_instance(
    schema: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    out = tmp_path / "shift.html"
    result = iiot("report", "--plant", PLANT, "--shift", "2026-01-05/试班", "--schema", schema,
                  "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    browser.get(out.resolve().as_uri())
    header = {d.get_attribute("data-key"): d.text for d in browser.find_elements(By.TAG_NAME, "dd")}
    assert header["shift"] == "2026-01-05 试班 (t)"
    assert header["range"] == "2026-01-05 16:00 – 2026-01-05 16:02 (Asia/Shanghai)"
    tiles = browser.find_elements(By.CSS_SELECTOR, "#kpi .value")
    assert {t.get_attribute("data-key"): _value(t) for t in tiles} == _approx(TOTALS)


def test_unknown_shift_is_one_line_listing_the_shifts(schema: str) -> None:
    result = iiot("report", "--plant", PLANT, "--shift", "late", "--schema", schema)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: plant {PLANT} has no shift 'late'; its shifts: t (试班, 16:00–16:02)"
    )


def test_the_same_report_data_on_timescaledb(
    schema: str, reader: psycopg.Connection, settings: Settings
) -> None:
    """The report's queries on the WASM TimescaleDB read what they read on PostgreSQL."""
    end = hand.T0 + timedelta(minutes=2)
    reader.execute(f"SET search_path TO {schema}")
    plain = query.read(reader, PLANT, "T", hand.T0, end)
    with pglite_timescaledb() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        assert migrate(conn, "iiot", settings)[0] == "timescaledb"
        conn.execute("SET search_path TO iiot")
        _insert(conn, plain=False)
        assert query.read(conn, PLANT, "T", hand.T0, end) == plain
    assert plain.totals.oee == pytest.approx(TOTALS["oee"])


def test_a_range_without_data_says_so(
    schema: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    """No window, no interval, no alarm: undefined ratios, not 100 % availability."""
    out = tmp_path / "empty.html"
    result = iiot("report", "--plant", PLANT, "--from", "2020-01-01", "--to", "2020-01-02",
                  "--schema", schema, "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    browser.get(out.resolve().as_uri())
    tiles = browser.find_elements(By.CSS_SELECTOR, "#kpi .value")
    assert {t.get_attribute("data-key"): (_value(t), t.text) for t in tiles} == {
        key: (None, "–") for key in TOTALS
    }
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == len(page.CHARTS)
    assert browser.get_log("browser") == []
