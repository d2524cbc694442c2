"""One `iiot simulate` run: events into the Publisher, the live numbers, the closing summary."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from rich.console import Console, RenderableType

from iiot import kafka_admin
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.types import format_ts
from producers.display import faults_table, live_panel, summary_table
from producers.publisher import Publisher, ReadingRejected

_REFRESH_S = 0.25


class SimulateRun:
    def __init__(self, settings: Settings, spool: Path | None, *, validate: bool) -> None:
        # Topics are created if Kafka answers; if not, the spool takes everything.
        with contextlib.suppress(kafka_admin.BrokerUnreachable, KafkaException, TimeoutError):
            kafka_admin.ensure_topics(settings, timeout_s=3)
        self.publisher = Publisher(settings, spool)
        self.validate = validate
        self.started = time.monotonic()
        self.simulated_ms = 0

    def publish_all(
        self,
        events: Iterable[Any],
        stop: Mapping[str, bool],
        show: Callable[[RenderableType], None] | None,
    ) -> None:
        """Publish until the events end or Ctrl-C; poll and redraw every quarter second."""
        publisher, publish = self.publisher, self.publisher.publish
        telemetry, validate = Topic.TELEMETRY, self.validate
        next_refresh = time.monotonic() + _REFRESH_S
        clock = time.monotonic  # read per record (~50 ns): a paced run may yield one a minute
        for event in events:
            if validate and event.valid and event.topic is telemetry:
                with contextlib.suppress(ReadingRejected):  # counted and dead-lettered
                    publisher.publish_reading(event.value)
            else:  # births, valid samples, and injected malformed ones (for the dead letters)
                publish(event.topic, event.key, event.value, event.timestamp_ms)
            now = clock()
            if now >= next_refresh:
                next_refresh = now + _REFRESH_S
                self.simulated_ms = event.timestamp_ms
                publisher.poll(0)
                if show is not None:
                    show(self.panel())
                if stop["stop"]:
                    break
        if show is not None:
            show(self.panel())

    def panel(self) -> RenderableType:
        publisher = self.publisher
        simulated = (
            format_ts(datetime.fromtimestamp(self.simulated_ms / 1000, UTC))
            if self.simulated_ms
            else "–"
        )
        return live_panel(
            publisher.counters,
            publisher.rate(),
            publisher.mode.value,
            len(publisher.spool),
            simulated,
            time.monotonic() - self.started,
        )

    def finish(self, console: Console, injected: Any, *, as_json: bool = False) -> None:
        """Flush (spooling what Kafka does not take in time) and print the summary."""
        left = self.publisher.close(timeout_s=30)
        wall_s = time.monotonic() - self.started
        counters = self.publisher.counters
        if as_json:
            summary = {f: getattr(counters, f) for f in counters.__slots__}
            summary |= {"left_in_spool": left, "wall_s": round(wall_s, 3)}
            summary["injected"] = {"samples": injected.samples, **injected.counts}
            console.print(json.dumps(summary), soft_wrap=True, highlight=False)
            return
        console.print(summary_table(counters, left, wall_s))
        console.print(faults_table(injected.samples, injected.missing_samples, injected.counts))
        if left:
            console.print(
                f"[yellow]{left:,} records wait in the spool {self.publisher.spool.path}; "
                "the next run sends them first.[/]"
            )
