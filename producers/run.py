"""One `iiot simulate` run: events into the Publisher, the live numbers, the closing summary."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from rich.console import Console, RenderableType

from iiot import kafka_admin
from iiot.gc_tuning import few_collections
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.types import format_ts
from producers.display import faults_table, live_panel, summary_table
from producers.publisher import Publisher, ReadingRejected
from producers.spool import SpoolFull
from producers.stats import Counters

_REFRESH_S = 0.25
_BATCH = 1_000  # records per Publisher call when unpaced (~5 ms at full speed)


class SimulateRun:
    def __init__(
        self, settings: Settings, spool: Path | None, *, validate: bool, topics: bool = True
    ) -> None:
        if topics:
            ensure_topics(settings)
        self.publisher = Publisher(settings, spool)
        self.validate = validate
        self.started = time.monotonic()
        self.simulated_ms = 0
        self._simulation: Any = None

    def samples(self, simulation: Any) -> Iterator[Any]:
        """The simulation's records, each device's seqs continuing above the marks in the
        spool's file (a restarted simulator's samples are new downstream, not duplicates);
        its batches are reserved there before they are made (producers/seqs.py)."""
        self._simulation, book = simulation, self.publisher.seqs
        return simulation.run(seq_base=book.marks(), reserve=book.reserve)

    def pause(self, seconds: float) -> None:
        """The paced simulator waits for its next records (`pace(sleep=…)`): the samples that
        would wait past their batch bound meanwhile go now (a real-time device keeps
        one-sample records, sent as they come), then sleep."""
        self.publisher.send_waiting(within_s=seconds)
        time.sleep(seconds)

    def publish_all(
        self,
        events: Iterable[Any],
        stop: Mapping[str, bool],
        tick: Callable[[], None] | None,
        *,
        unpaced: bool = False,
    ) -> None:
        """Publish until the events end or `stop`; poll and `tick` (redraw) every quarter
        second, and once at the end. `unpaced`: the events come as fast as they are made,
        so they can be taken `_BATCH` at a time (a paced run may yield one a minute)."""
        if unpaced and not self.validate:
            with few_collections():
                self._publish_batches(iter(events), stop, tick)
            if tick is not None:
                tick()
            return
        publisher, publish = self.publisher, self.publisher.publish
        telemetry, validate = Topic.TELEMETRY, self.validate
        next_refresh = time.monotonic() + _REFRESH_S
        clock = time.monotonic  # read per record (~50 ns): a paced run may yield one a minute
        # Unpacked in the loop (the simulator's `Emitted`): cheaper than four field lookups.
        with few_collections():
            for topic, key, value, timestamp_ms, valid, _ in events:
                # Refused readings are counted (invalid: dead-lettered; refused: spool full).
                with contextlib.suppress(ReadingRejected, SpoolFull):
                    if validate and valid and topic is telemetry:
                        publisher.publish_reading(value)
                    else:  # births, valid samples, injected malformed ones (for dead letters)
                        publish(topic, key, value, timestamp_ms, valid=valid)
                now = clock()
                if now >= next_refresh:
                    next_refresh = now + _REFRESH_S
                    self.simulated_ms = timestamp_ms
                    publisher.poll(0)
                    if tick is not None:
                        tick()
                    if stop["stop"]:
                        break
        if tick is not None:
            tick()

    def _publish_batches(
        self, events: Iterator[Any], stop: Mapping[str, bool], tick: Callable[[], None] | None
    ) -> None:
        """publish_all() for unpaced, unvalidated events: one Publisher call per `_BATCH`
        records (not one per record), the clock read once per batch."""
        publisher = self.publisher
        next_refresh = time.monotonic() + _REFRESH_S
        while batch := list(itertools.islice(events, _BATCH)):
            with contextlib.suppress(SpoolFull):  # counted: `counters.refused`
                publisher.publish_batch(batch)
            now = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + _REFRESH_S
                self.simulated_ms = batch[-1][3]  # the last record's timestamp_ms
                publisher.poll(0)
                if tick is not None:
                    tick()
                if stop["stop"]:
                    break

    def simulated_text(self) -> str:
        """How far the simulated clock has come."""
        if not self.simulated_ms:
            return "–"
        return format_ts(datetime.fromtimestamp(self.simulated_ms / 1000, UTC))

    def panel(self) -> RenderableType:
        publisher = self.publisher
        return live_panel(
            publisher.counters,
            publisher.rate(),
            publisher.mode.value,
            len(publisher.spool),
            self.simulated_text(),
            time.monotonic() - self.started,
        )

    def finish(self, console: Console, injected: Any, *, as_json: bool = False) -> None:
        """Flush (spooling what Kafka does not take in time) and print the summary."""
        print_summary(console, self.close(injected), as_json=as_json)

    def close(self, injected: Any) -> dict[str, Any]:
        """Flush (spooling what Kafka does not take in time); the run's summary."""
        if self._simulation is not None:  # the exact marks, so the next run has no gap
            for device_id, seq in self._simulation.last_seqs().items():
                self.publisher.seqs.saw(device_id, seq)
        left = self.publisher.close(timeout_s=30)
        counters = self.publisher.counters
        summary: dict[str, Any] = {f: getattr(counters, f) for f in counters.__slots__}
        summary |= {"left_in_spool": left, "wall_s": round(time.monotonic() - self.started, 3)}
        summary["injected"] = {"samples": injected.samples, **injected.counts}
        summary["missing_samples"] = injected.missing_samples
        summary["spools"] = [str(self.publisher.spool.path)] if left else []
        return summary


def ensure_topics(settings: Settings) -> None:
    """Create the topics if Kafka answers; if not, the spool takes everything."""
    with contextlib.suppress(kafka_admin.BrokerUnreachable, KafkaException, TimeoutError):
        kafka_admin.ensure_topics(settings, timeout_s=3)


def print_summary(console: Console, summary: dict[str, Any], *, as_json: bool) -> None:
    """One JSON object, or the tables of what became of the records and what was injected."""
    if as_json:
        shown = {k: v for k, v in summary.items() if k not in ("missing_samples", "spools")}
        console.print(json.dumps(shown), soft_wrap=True, highlight=False)
        return
    counters = Counters(**{f: summary[f] for f in Counters.__slots__})
    left, injected = summary["left_in_spool"], dict(summary["injected"])
    console.print(summary_table(counters, left, summary["wall_s"]))
    samples = injected.pop("samples")
    console.print(faults_table(samples, summary["missing_samples"], injected))
    if left:
        console.print(
            f"[yellow]{left:,} records wait in the spool {', '.join(summary['spools'])}; "
            "the next run sends them first.[/]"
        )
