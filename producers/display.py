"""What `iiot simulate` shows: a live panel while it runs, tables when it ends."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from producers.stats import Counters

_MODE_STYLE = {"live": "green", "spooling": "yellow", "draining": "cyan"}


def live_panel(
    counters: Counters, rate: float, mode: str, in_spool: int, simulated: str, wall_s: float
) -> Table:
    errors = counters.failed + counters.invalid + counters.refused
    table = Table(title="iiot simulate", title_justify="left", show_header=True)
    for column in ("simulated time", "samples/s", "delivered", "spooled", "in spool", "errors"):
        table.add_column(column, justify="right")
    table.add_column("Kafka")
    table.add_row(
        simulated,
        f"{rate:,.0f}",
        f"{counters.delivered:,}",
        f"{counters.spooled:,}",
        f"{in_spool:,}",
        f"[red]{errors:,}[/]" if errors else "0",
        f"[{_MODE_STYLE.get(mode, 'white')}]{mode}[/] ({wall_s:,.0f} s)",
    )
    return table


def counts_table(title: str, what: str, rows: Mapping[str, int]) -> Table:
    """A summary: one labelled count a row (the Publisher's, an adapter's, the demo's)."""
    table = Table(title=title, title_justify="left")
    table.add_column(what)
    table.add_column("count", justify="right")
    for label, count in rows.items():
        table.add_row(label, f"{count:,}")
    return table


def summary_table(counters: Counters, in_spool: int, wall_s: float) -> Table:
    rows = {
        "handed to the publisher": counters.handed,
        "delivered (acks=all)": counters.delivered,
        "  of them from the spool": counters.drained,
        "written to the spool": counters.spooled,
        "left in the spool": in_spool,
        "invalid readings (dead-lettered)": counters.invalid,
        "refused by Kafka": counters.failed,
        "refused, the spool full (not sent)": counters.refused,
        "dead letters sent": counters.dead_lettered,
        "broker outages": counters.outages,
    }
    table = counts_table("published", "records", rows)
    average = counters.delivered / wall_s if wall_s > 0 else 0.0
    table.add_row("delivered per second (average)", f"{average:,.0f}")
    return table


def faults_table(samples: int, missing: int, counts: Mapping[str, int]) -> Table:
    table = Table(title="the simulator injected", title_justify="left")
    table.add_column("fault")
    table.add_column("count", justify="right")
    table.add_row("samples generated", f"{samples:,}")
    table.add_row("samples not sent (device offline)", f"{missing:,}")
    for fault, count in counts.items():
        table.add_row(fault.replace("_", " "), f"{count:,}")
    return table
