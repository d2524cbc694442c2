"""Debian's Chromium through Debian's chromedriver (no driver download), headless: what
test_report.py opens the shift report in, and what report_screenshots.py photographs it with."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def open_chromium(width: int, height: int) -> webdriver.Chrome:
    """A headless browser window of that size, its console log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
