"""`iiot publish`: JSON Lines through the Publisher, one message a line, as they come.

Any source that can print JSON is a producer at once (`mosquitto_sub … | iiot publish -`):
each line is validated at the edge, numbered if it has no `seq`, spooled while Kafka is away
and dead-lettered if bad, exactly as `Publisher.publish_reading` does (docs/producer.md,
"iiot publish"). confluent-kafka and the producer are imported when the command runs.
"""

from __future__ import annotations

import io
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, TypeVar

import typer

from cli.errors import fail, say, warn
from cli.signals import StopSignals, interrupt_now
from iiot.settings import get_settings

if TYPE_CHECKING:
    from producers.publisher import Publisher

MODELS = ("Reading", "Sample", "DeviceBirth")
T = TypeVar("T")
_POLL_S = 0.1  # the Publisher wants a poll() at least this often, also while nothing comes
_FLUSH_S = 30.0


def publish(
    path: Annotated[Path, typer.Argument(help="JSON Lines, one message a line; - = stdin.")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Reading (a sample, numbered if it has no seq), Sample (seq required) "
            "or DeviceBirth.",
        ),
    ] = "Reading",
    spool: Annotated[
        Path | None, typer.Option(help="Spool file (default IIOT_SPOOL_PATH or .spool/).")
    ] = None,
) -> None:
    """Publish JSON Lines through the Publisher (validated, numbered, spooled, bad ones
    dead-lettered), each line as it comes. One line on stderr per bad line, a summary at
    the end (EOF, Ctrl-C or SIGTERM); exit 1 if any line was not published."""
    if model not in MODELS:
        raise fail(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}", 2)
    try:
        source = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None
    publisher = open_publisher(spool)
    tally = Tally()
    try:
        with StopSignals(then_at_once=interrupt_now) as signals:
            send, idle = _sender(publisher, model), _Idle(publisher, signals.requested)
            for number, line in enumerate(lines_as_they_come(source, idle), start=1):
                if line.strip():
                    tally.note(f"line {number}", send, line)
                idle.now_and_then()
                if signals.requested():
                    break
            stopped = signals.requested()
    finally:
        left = publisher.close(timeout_s=_FLUSH_S)
        source.close()
    finish(tally, left, publisher, stopped)


@dataclass
class Tally:
    """What became of the lines: handed over, refused (the spool full), invalid."""

    published: int = 0
    refused: int = 0
    invalid: int = 0

    def note(self, place: str, send: Callable[[T], object], message: T) -> None:
        """Hand one message over; a bad one is said in one line, `PLACE: why`, and counted."""
        from iiot.contract import ContractError
        from producers.spool import SpoolFull

        try:
            send(message)
        except ContractError as exc:  # ReadingRejected too: already dead-lettered
            self.invalid += 1
            say(f"{place}: {exc.reason}")
        except SpoolFull as exc:
            self.refused += 1
            say(f"{place}: not taken, Kafka is away and the spool full: {exc}")
        else:
            self.published += 1

    def rejected(self) -> int:
        return self.refused + self.invalid


def open_publisher(spool: Path | None) -> Publisher:
    """A Publisher on `spool`, the topics created if Kafka answers (if not, the spool takes
    everything)."""
    from producers.publisher import Publisher
    from producers.run import ensure_topics
    from producers.spool import SpoolLocked

    settings = get_settings()
    ensure_topics(settings)
    try:
        return Publisher(settings, spool)
    except SpoolLocked as exc:
        raise fail(f"{exc}; give this run its own --spool") from None


def finish(tally: Tally, left: int, publisher: Publisher, stopped: bool) -> None:
    """The one-line summary on stderr (`left`: records the spool keeps for Kafka); exit 1 if
    any message was not published."""
    say(
        f"published {tally.published:,}, refused {tally.refused:,}, invalid {tally.invalid:,}, "
        f"spooled {left:,}" + (" (stopped)" if stopped else "")
    )
    if left:
        warn(f"{left:,} records wait in the spool {publisher.spool.path} for Kafka; "
             "the next run with this spool sends them first")  # fmt: skip
    if tally.rejected():
        raise typer.Exit(1)


def _sender(publisher: Publisher, model: str) -> Callable[[bytes], object]:
    """How one line is handed over: a birth validated, then published; a reading (or a
    sample, which must have its seq) through `publish_reading`."""
    from iiot.contract import decode
    from iiot.messages import DeviceBirth, Reading, Sample

    if model == "DeviceBirth":
        return lambda line: publisher.publish_birth(decode(DeviceBirth, line))
    as_model: type[Reading] = Sample if model == "Sample" else Reading
    return lambda line: publisher.publish_reading(line, as_model)


class _Idle:
    """Serves the Publisher while nothing comes, and says whether to stop waiting: the
    Publisher wants a poll() at least every 0.1 s (batch records wait for it)."""

    def __init__(self, publisher: Publisher, stopped: Callable[[], bool]) -> None:
        self._publisher, self._stopped = publisher, stopped
        self._last = time.monotonic()

    def __call__(self) -> bool:
        self._publisher.poll(0)
        self._last = time.monotonic()
        return self._stopped()

    def now_and_then(self) -> None:
        """Between lines: poll if the last poll is 0.1 s old."""
        if time.monotonic() - self._last >= _POLL_S:
            self()


def lines_as_they_come(source: IO[bytes], idle: Callable[[], bool]) -> Iterator[bytes]:
    """The lines of `source`, each as soon as it is whole (a pipe that never ends, such as
    `mosquitto_sub`, is not waited out), without their line ends. While nothing comes,
    `idle()` is called every 0.1 s; it returns True to stop. The last line needs no end."""
    try:
        fd = source.fileno()
    except (OSError, io.UnsupportedOperation):  # no file descriptor (a test's stdin)
        for line in source:
            yield line.rstrip(b"\r\n")
        return
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], _POLL_S)
        if not ready:
            if idle():
                return
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            if pending:
                yield pending.rstrip(b"\r")
            return
        *whole, pending = (pending + chunk).split(b"\n")
        for line in whole:
            yield line.rstrip(b"\r")
