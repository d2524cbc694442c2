"""The report as PDF, printed by headless Chromium from the HTML page (A4, from the page's
CSS), so the PDF shows exactly what the browser shows."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
HOW_TO_GET = "install Debian's chromium: `deploy/local/stack.sh tools` (as root)"
TIMEOUT_S = 120


class PdfError(RuntimeError):
    """No browser, or it did not print: the message says what to do."""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise PdfError(f"no Chromium to print the PDF with; {HOW_TO_GET}")


def print_pdf(html: str, pdf: Path) -> None:
    """Print the page (self-contained HTML) to `pdf` with headless Chromium."""
    command = browser()
    pdf.unlink(missing_ok=True)  # a PDF left from before must not pass for this one
    with tempfile.TemporaryDirectory(prefix="iiot-report-") as work:
        page = Path(work) / "report.html"
        page.write_text(html, encoding="utf-8")
        args = [
            command,
            "--headless",
            "--no-sandbox",  # Chromium refuses to run as root (containers, CI) with its sandbox
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(work) / 'profile'}",
            f"--print-to-pdf={pdf.resolve()}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise PdfError(f"{command} did not print {pdf} within {TIMEOUT_S} s") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"{command} failed to print {pdf} (exit {done.returncode}): {last}")
