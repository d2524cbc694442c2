"""Makes the shift report's screenshots in docs/dashboards.md again, from scratch.

    .venv/bin/python -m tests.integration.report_screenshots   # the local stack running

150 simulated devices of the province over plant qd-haier-p1's night shift of 2026-12-05
(22:30–06:30 in Shanghai: dashboard_data.make from the half hour), made and landed as the
dashboard tests do (tests/integration/dashboard_data.py) in a schema of its own, created and
dropped by its exact name; then `iiot report --shift 2026-12-05/night` in Chinese and English,
opened in Debian's headless Chromium (tests/integration/chromium.py) 900 px wide and saved
as docs/images/report-zh.png and report-en.png. The same seed gives the same page; only
"generated at" moves. It stops, writing nothing, if the page lacks what the pictures are for.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from selenium.webdriver.common.by import By

from iiot.settings import Settings
from sinks.migrate import migrate
from sinks.partitions import maintain
from tests.integration import dashboard_data
from tests.integration.chromium import open_chromium
from tests.invoke import iiot

SCHEMA = "report_screenshots"
PLANT = "qd-haier-p1"  # dashboard_data's alarms are on its first devices
SHIFT = "2026-12-05/night"
START = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
DEVICES, MINUTES = 150, 480
WIDTH = 900
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# What a reader must see: (CSS selector, at least how many), else the picture shows nothing.
SHOWN = {
    "svg[data-chart=pareto] rect[data-value]": 3,  # several stop reasons
    "table[data-table=lines] tbody tr": 2,  # OEE of two lines
    "table[data-table=alarms] tbody tr": 1,
}


def land(settings: Settings) -> None:
    """The schema made anew by its exact name, the province's data written into it."""
    data = dashboard_data.make(DEVICES, MINUTES, START)
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as migrator:
        drop(migrator)
        migrate(migrator, SCHEMA, settings)
        with psycopg.connect(settings.pg_writer_dsn, autocommit=True) as writer:
            dashboard_data.write(writer, SCHEMA, data)
        maintain(migrator, SCHEMA)  # plain PostgreSQL: roll-ups as fresh as this


def drop(migrator: psycopg.Connection) -> None:
    migrator.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def photograph(work: Path) -> list[Path]:
    """Both languages' pages, checked and saved whole at WIDTH."""
    browser = open_chromium(WIDTH, 1000)
    try:
        made = []
        for language in ("zh", "en"):
            page = work / f"report-{language}.html"
            result = iiot("report", "--plant", PLANT, "--shift", SHIFT, "--language", language,
                          "--out", str(page), env={"IIOT_PG_SCHEMA": SCHEMA})  # fmt: skip
            if result.exit_code != 0:
                sys.exit(f"iiot report failed: {result.output.strip()}")
            browser.get(page.as_uri())
            for selector, least in SHOWN.items():
                found = len(browser.find_elements(By.CSS_SELECTOR, selector))
                if found < least:
                    sys.exit(f"{language}: {found} × {selector}, want ≥ {least}; nothing written")
            height = browser.execute_script("return document.documentElement.scrollHeight")
            # The viewport itself that tall: a window's size would leave a scrollbar.
            metrics = {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            png = work / f"report-{language}.png"
            browser.save_screenshot(str(png))
            made.append(png)
        return made
    finally:
        browser.quit()


def main() -> None:
    settings = Settings(pg_schema=SCHEMA)
    with tempfile.TemporaryDirectory(prefix="iiot-screens-") as work:
        try:
            land(settings)
            pictures = photograph(Path(work))
        finally:
            with psycopg.connect(settings.pg_migrator_dsn, autocommit=True) as migrator:
                drop(migrator)
        for png in pictures:  # only when both are good
            target = IMAGES / png.name
            target.write_bytes(png.read_bytes())
            print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
