"""`iiot replay`: a recording published again, paced by its timestamps (iiot/recording.py).

What goes out, changed how and when, is producers/replay.py; here are the file, Kafka, the
progress and the summary. confluent-kafka and the part are imported when the command runs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.errors import fail, warn
from cli.signals import StopSignals, interrupt_now
from cli.simulate import parse_speed, parse_start
from iiot.recording import Recorded, RecordingError, read
from iiot.settings import Settings, get_settings

if TYPE_CHECKING:
    from confluent_kafka import KafkaError, Message, Producer

    from producers.replay import Scan

console = Console()

_REFRESH_S = 0.25
_FLUSH_S = 30.0


def replay(
    path: Annotated[Path, typer.Argument(help="Recording (JSON Lines, .gz too); - = stdin.")],
    speed: Annotated[
        str, typer.Option(help="1 = as recorded, N = N× faster, max = without waiting.")
    ] = "1",
    rebase: Annotated[
        str | None,
        typer.Option(
            help="Move the first record to this time, the rest with it: now, or ISO 8601 "
            "(UTC if no zone)."
        ),
    ] = None,
    loop: Annotated[
        int,
        typer.Option(
            min=1, help="Passes; each later one with later times and higher seqs (new samples)."
        ),
    ] = 1,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip lines that are no record; a warning counts them.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress display, only the summary.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Summary as one JSON object (implies --quiet).")
    ] = False,
) -> None:
    """Publish a recording (docs/recording.md) as recorded, bad records included, per-key
    order kept, paced by its timestamps."""
    pace_s = parse_speed(speed)
    from iiot.oee import to_ms
    from producers import replay as plan

    rebase_ms = None if rebase is None else to_ms(parse_start(rebase))
    bad: list[RecordingError] = []
    source, found = _open(path, skip_bad, bad, seqs=loop > 1)
    try:
        shifts = plan.shifts(found, loop, rebase_ms)
    except plan.NoTimestamps as exc:
        raise fail(str(exc)) from None
    settings = get_settings()
    if rebase_ms is None:
        _warn_if_old(found.lowest_ms, settings)
    sender = _Sender(settings, found.topics)
    started = time.monotonic()
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or as_json,
    )
    with StopSignals(then_at_once=interrupt_now) as signals, progress:
        task = progress.add_task("replay", total=found.records * loop, rate="")

        def tick() -> None:
            rate = sender.total() / max(time.monotonic() - started, 1e-9)
            progress.update(task, completed=sender.total(), rate=f"{rate:,.0f}/s")

        wait = sender.waiter(signals.requested, tick)
        skewed_ms = settings.future_tolerance_s * 1000  # what the stream would refuse
        records = plan.paced(plan.passes(source, shifts), pace_s, sleep=wait, skewed_ms=skewed_ms)
        problem = sender.send_all(records, signals.requested, tick)
        cut_short = signals.requested() or problem is not None
    not_delivered = sender.close()
    wall_s = time.monotonic() - started
    passes = sender.total() // found.records if cut_short and found.records else loop
    _print_summary(sender, len(bad), not_delivered, passes, cut_short, wall_s, as_json=as_json)
    if bad:
        warn(f"skipped {len(bad):,} bad line(s) of {_name(path)}, the first at {bad[0]}")
    if problem is not None:
        raise fail(_unreadable(path, problem))
    if not_delivered:
        why = sender.first_failure or f"still held by the client after {_FLUSH_S:.0f} s"
        raise fail(f"{not_delivered:,} record(s) not delivered: {why}")


def _warn_if_old(lowest_ms: int | None, settings: Settings) -> None:
    """Kafka deletes telemetry older than the topic's retention by its timestamp (every
    5 minutes): an old recording's records may go before the worker reads them."""
    from iiot.topics import Topic, specs

    spec = next(s for s in specs(settings) if s.topic is Topic.TELEMETRY)
    kept_ms = int(spec.config["retention.ms"])
    if lowest_ms is not None and 0 < kept_ms < time.time() * 1000 - lowest_ms:
        warn(f"the recording's times are older than iiot.telemetry keeps records "
             f"({kept_ms // 86_400_000} days): Kafka may delete them before they are read; "
             "--rebase moves them (by whole days, every window stays the same)")  # fmt: skip


def _name(path: Path) -> str:
    return "stdin" if str(path) == "-" else str(path)


def _unreadable(path: Path, exc: RecordingError | OSError | EOFError) -> str:
    """One line: the bad line and why, or why the file cannot be read."""
    if isinstance(exc, RecordingError):
        return f"{_name(path)} {exc}"
    return f"cannot read {_name(path)}: {getattr(exc, 'strerror', None) or exc}"


def _open(
    path: Path, skip_bad: bool, bad: list[RecordingError], *, seqs: bool
) -> tuple[Callable[[], Iterable[Recorded]], Scan]:
    """The recording read through once, every line checked before a record is sent; and
    how to read it again for each pass (stdin, which reads once, is kept in memory)."""
    from producers.replay import scan

    try:
        if str(path) == "-":
            kept = list(read(path, skip_bad=skip_bad, bad=bad))
            return (lambda: kept), scan(kept, seqs=seqs)
        found = scan(read(path, skip_bad=skip_bad, bad=bad), seqs=seqs)
    except (RecordingError, OSError, EOFError) as exc:
        raise fail(_unreadable(path, exc)) from None
    return (lambda: read(path, skip_bad=skip_bad)), found


class _Sender:
    """One idempotent producer (one key, one partition, order kept), what it was given per
    topic and what it could not deliver."""

    def __init__(self, settings: Settings, topics: set[str]) -> None:
        from confluent_kafka import Producer

        from iiot import kafka_admin
        from producers.kafka_client import client_config

        try:
            kafka_admin.broker_summary(settings)
        except kafka_admin.BrokerUnreachable as exc:
            raise fail(str(exc)) from None
        self.prefix = settings.topic_prefix
        config = client_config(settings) | {"on_delivery": self._on_delivery}
        self.producer: Producer = Producer(config)
        on_broker = self.producer.list_topics(timeout=10).topics
        missing = sorted(name for t in topics if (name := self.prefix + t) not in on_broker)
        if missing:  # the broker creates none itself: records would wait, then fail
            raise fail(f"no topic {', '.join(missing)} on the broker (`iiot topics create`)")
        self.sent: Counter[str] = Counter()
        self.failed = 0
        self.first_failure = ""

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:  # the client reports failures only (producers/kafka_client.py)
            self.failed += 1
            self.first_failure = self.first_failure or err.str()

    def total(self) -> int:
        return sum(self.sent.values())

    def send(self, record: Recorded) -> None:
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        while True:
            try:
                self.producer.produce(
                    self.prefix + record.topic,
                    record.value,
                    record.key,
                    timestamp=record.timestamp_ms or 0,  # 0: the client's clock
                    headers=headers,
                )
                break
            except BufferError:  # the client holds all it may: let it deliver some first
                self.producer.poll(0.1)
        self.sent[record.topic] += 1

    def send_all(
        self, records: Iterable[Recorded], stopped: Callable[[], bool], tick: Callable[[], None]
    ) -> RecordingError | OSError | EOFError | None:
        """Send until the records end or a stop; poll and `tick` every quarter second. A
        recording that goes bad between passes ends it (returned, said after the flush)."""
        next_refresh = time.monotonic() + _REFRESH_S
        try:
            for record in records:
                if stopped():
                    break
                self.send(record)
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + _REFRESH_S
                    self.producer.poll(0)
                    tick()
        except (RecordingError, OSError, EOFError) as exc:
            return exc
        finally:
            tick()
        return None

    def waiter(
        self, stopped: Callable[[], bool], tick: Callable[[], None]
    ) -> Callable[[float], None]:
        """The pacing's sleep: serves the client and the display meanwhile, ends at a stop."""

        def wait(seconds: float) -> None:
            until = time.monotonic() + seconds
            while not stopped() and (left := until - time.monotonic()) > 0:
                self.producer.poll(min(left, _REFRESH_S))
                tick()

        return wait

    def close(self) -> int:
        """Flush; the records not delivered (reported failed, or still held after 30 s)."""
        held = self.producer.flush(_FLUSH_S)
        return self.failed + held


def _print_summary(
    sender: _Sender,
    skipped: int,
    not_delivered: int,
    passes: int,
    stopped: bool,
    wall_s: float,
    *,
    as_json: bool,
) -> None:
    """What went out, as `iiot record` says what it wrote (the same keys where they meet)."""
    records = sender.total()
    summary: dict[str, Any] = {
        "records": records,
        "per_topic": dict(sorted(sender.sent.items())),
        "skipped_bad_lines": skipped,
        "not_delivered": not_delivered,
        "passes": passes,
        "stopped": stopped,
        "wall_s": round(wall_s, 3),
        "records_per_s": round(records / wall_s if wall_s > 0 else 0.0, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table(title="replayed", title_justify="left")
    table.add_column("records")
    table.add_column("count", justify="right")
    for topic, count in summary["per_topic"].items():
        table.add_row(f"sent to {topic}", f"{count:,}")
    table.add_row("skipped bad lines", f"{skipped:,}")
    table.add_row("not delivered", f"{not_delivered:,}")
    table.add_row("passes", f"{passes:,}" + (" (stopped)" if stopped else ""))
    table.add_row("wall seconds", f"{wall_s:,.1f}")
    table.add_row("records per second", f"{summary['records_per_s']:,.0f}")
    console.print(table)
