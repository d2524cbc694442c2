"""What the demo shows: a live panel while it runs, the summary tables when it ends."""

from __future__ import annotations

from datetime import timedelta

from rich import box
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from cli.demo.plan import DemoPlan
from cli.demo.probe import COUNTED_VIEWS, Reading
from cli.demo.summary import EnterpriseLine, Summary
from producers.display import counts_table


def _minutes(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _factory_clock(plan: DemoPlan, elapsed_s: float) -> str:
    at = plan.start + timedelta(seconds=min(elapsed_s, plan.wall_s) * plan.speed)
    return f"{at:%m-%d %H:%M} UTC"


def live_panel(plan: DemoPlan, phase: str, elapsed_s: float, reading: Reading | None) -> Group:
    """Phase, wall time against the run's length, and the numbers as they move."""
    done = min(elapsed_s, plan.wall_s)
    clock = Text.assemble(
        (f"{_minutes(elapsed_s)} elapsed, {_minutes(plan.wall_s - done)} to go", "bold"),
        f" · factory time {_factory_clock(plan, elapsed_s)} ({plan.speed:g}×)",
    )
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for column in ("samples sent", "landed", "OEE windows", "digitization", "dead letters"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("behind: stream / sink", justify="right", no_wrap=True)
    if reading is None:
        table.add_row(*["…"] * 6)
    else:
        counts = [reading.rows.get(view) for view in COUNTED_VIEWS]
        table.add_row(
            f"{reading.published:,}",
            *("…" if n is None else f"{n:,}" for n in counts),
            f"{reading.stream_lag:,} / {reading.sink_lag:,}",
        )
    return Group(
        Text(f"iiot demo · {phase}", style="cyan"),
        ProgressBar(total=plan.wall_s, completed=done, width=50),
        clock,
        table,
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _index(line: EnterpriseLine) -> str:
    if line.digitization_index is None:
        return "–"
    return f"{line.digitization_index:.1f}" + ("" if line.digitization_complete else "*")


def totals_table(summary: Summary) -> Table:
    rows = {
        "enterprises (v_enterprise)": summary.enterprises,
        "devices (v_device)": summary.devices,
        "samples (v_telemetry)": summary.samples,
        "dead letters (v_deadletter)": summary.dead_letters,
        "alarms raised (v_alarm)": summary.alarms_raised,
        "  still open (v_alarm_open)": summary.alarms_open,
        "OEE windows, every level (v_oee)": summary.oee_windows,
        "digitization windows (v_digitization)": summary.digitization_windows,
    }
    table = counts_table(f"the run, from the views of schema {summary.schema}", "what", rows)
    if summary.first_sample and summary.last_sample:
        span = f"{summary.first_sample:%Y-%m-%d %H:%M} – {summary.last_sample:%H:%M} UTC"
        table.add_row("factory time covered", span)
    return table


def _newest_hour(summary: Summary) -> str:
    hours = {
        line.digitization_hour
        for line in summary.lines
        if line.digitization_complete and line.digitization_hour is not None
    }
    return f"{max(hours):%H:%M} UTC" if hours else "none complete"


def enterprise_table(summary: Summary) -> Table:
    """OEE from the added parts over the run; the index of the newest complete hour."""
    table = Table(
        title=f"per enterprise: OEE over the run (added parts of v_oee, level enterprise); "
        f"digitization index of the hour from {_newest_hour(summary)} (v_digitization)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("enterprise")
    for column in ("devices", "planned device-h", "A", "P", "Q", "OEE", "index"):
        table.add_column(column, justify="right", no_wrap=True)
    for line in summary.lines:
        table.add_row(
            line.enterprise_id, str(line.devices), f"{line.parts.planned_s / 3600:,.1f}",
            _pct(line.availability), _pct(line.performance), _pct(line.quality),
            f"[bold]{_pct(line.oee)}[/]", _index(line),
        )  # fmt: skip
    table.add_section()
    table.add_row("province", str(summary.devices), "", "", "", "",
                  f"[bold]{_pct(summary.province_oee)}[/]", "")  # fmt: skip
    if any(not line.digitization_complete for line in summary.lines):
        table.caption = "* the newest hour, not complete yet"
    return table


def summary_view(summary: Summary) -> RenderableType:
    return Group(totals_table(summary), enterprise_table(summary))
