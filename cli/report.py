"""`iiot report`: a plant's shift as one HTML page (and PDF) that needs no Grafana
(reports/, docs/dashboards.md "Shift report")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail, say
from iiot.settings import get_settings


def _time(text: str, option: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is no time (ISO 8601, UTC if no zone)", 2) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def report(
    plant: Annotated[str, typer.Option(help="The plant (plant_id of v_device).")],
    shift: Annotated[
        str | None,
        typer.Option(
            help="DATE/SHIFT (local date, name or id), SHIFT (its last completed "
            "instance); default: the plant's last completed shift."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Instead of a shift: from (ISO 8601, UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="… to, exclusive.")] = None,
    out: Annotated[
        Path, typer.Option(help="The HTML page; a name ending in .pdf writes the PDF only.")
    ] = Path("report.html"),
    pdf: Annotated[Path | None, typer.Option(help="Also print the page to this PDF.")] = None,
    language: Annotated[str, typer.Option(help="zh, en or both.")] = "both",
    schema: Annotated[str | None, typer.Option(help="Schema of the views.")] = None,
) -> None:
    """A plant's shift report as iiot_reader: OEE against target, the loss waterfall, the
    downtime Pareto, OEE per line and the alarms; one self-contained page, printable (A4)."""
    import psycopg

    from dashboards.text import LANGUAGES
    from reports import page, query, shifts
    from reports import pdf as printing

    if language not in LANGUAGES:
        raise fail(f"--language must be one of {', '.join(LANGUAGES)}, not {language!r}", 2)
    if (start is None) != (end is None) or (start is not None and shift is not None):
        raise fail("give --shift, or --from and --to together", 2)
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        with query.connect(settings.pg_reader_dsn, schema or settings.pg_schema) as conn:
            known = query.plants(conn)
            if plant not in known:
                listed = ", ".join(known) or "none (no devices registered)"
                raise fail(f"unknown plant {plant!r}; plants: {listed}")
            if start is not None and end is not None:
                chosen = shifts.Shift(plant, None, _time(start, "--from"), _time(end, "--to"))
                if chosen.end <= chosen.start:
                    raise fail("--to must be after --from", 2)
            else:
                chosen = shifts.choose(plant, shifts.plant_shifts(conn, plant), shift, now)
            data = query.read(conn, plant, known[plant], chosen.start, chosen.end)
    except shifts.ShiftError as exc:
        raise fail(str(exc)) from None
    except psycopg.Error as exc:
        raise fail(f"database: {' '.join(str(exc).split())}") from None
    html = page.render(
        data,
        chosen,
        language=language,
        target=settings.oee_target,
        generated_at=now,
    )
    pdf_only = out.suffix.lower() == ".pdf"
    try:
        if not pdf_only:
            out.write_text(html, encoding="utf-8")
            say(f"wrote {out}")
        if pdf_only or pdf is not None:
            pdf_path = out if pdf_only else pdf
            assert pdf_path is not None
            printing.print_pdf(html, pdf_path)
            say(f"wrote {pdf_path}")
    except printing.PdfError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {exc.filename}: {exc.strerror}") from None
