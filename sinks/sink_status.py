"""How the sink is doing: rows/s, lag per topic, errors — live, and from outside.

A running sink prints one status line every few seconds (`SinkStats`). `iiot sink status`
asks Kafka for the group's committed offsets against the newest ones (lag per topic) and
the database for its row counts, so it works with or without a sink running.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from confluent_kafka import Consumer, KafkaException, TopicPartition

from iiot import topics
from iiot.kafka_security import kafka_config
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.writer import Batch, Rejected

REPORT_EVERY_S = 5.0


@dataclass
class SinkStats:
    sources: tuple[Topic, ...]
    out: TextIO | None = field(default_factory=lambda: sys.stderr)
    rows: Counter[str] = field(default_factory=Counter)  # rows written, per table
    undecodable: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    db_retries: int = 0
    kafka_errors: int = 0
    write_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    _last_report: float = field(default_factory=time.monotonic)
    _rows_at_last_report: int = 0

    def written(self, batch: Batch, rejected: list[Rejected], seconds: float) -> None:
        for target, rows in batch.rows.items():
            self.rows[target.table] += len(rows)
        for r in rejected:
            self.rows[r.table] -= 1
        self.rejected += len(rejected)
        self.write_s += seconds

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def maybe_report(self, consumer: Consumer, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (not force and now - self._last_report < REPORT_EVERY_S):
            return
        rate = (self.total_rows - self._rows_at_last_report) / max(now - self._last_report, 1e-9)
        self._last_report, self._rows_at_last_report = now, self.total_rows
        lag = ", ".join(f"{t.value.removeprefix('iiot.')} {n}" for t, n in live_lag(consumer))
        print(
            f"sink: {rate:,.0f} rows/s, {self.total_rows:,} rows | lag {lag or '-'} | "
            f"undecodable {self.undecodable}, rejected {self.rejected}, "
            f"dead-lettered {self.dead_lettered}, db retries {self.db_retries}",
            file=self.out,
            flush=True,
        )


def live_lag(consumer: Consumer) -> list[tuple[Topic, int]]:
    """Messages behind the newest, per topic, over the partitions this consumer owns."""
    lag: Counter[str] = Counter()
    for tp in consumer.assignment():
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
        except KafkaException:  # the broker away (_UNKNOWN_PARTITION): a status line is
            continue  # never worth stopping the sink for; its lag is not counted then
        (position,) = consumer.position([tp])
        at = position.offset if position.offset >= 0 else low
        lag[tp.topic] += max(high - at, 0)
    return [(_logical(name), n) for name, n in sorted(lag.items())]


def _logical(name: str) -> Topic:
    return Topic(name[name.index("iiot.") :])


@dataclass(frozen=True)
class TopicLag:
    topic: Topic
    committed: int
    newest: int

    @property
    def lag(self) -> int:
        return self.newest - self.committed


def group_lag(settings: Settings, sources: tuple[Topic, ...]) -> list[TopicLag]:
    """The sink group's lag per topic, from its committed offsets (no sink needed)."""
    consumer = Consumer(
        {
            **kafka_config(settings),
            "group.id": f"{settings.topic_prefix}{settings.sink_group}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(timeout=10)
        result = []
        for topic in sources:
            name = topics.name(topic, settings)
            if name not in meta.topics:
                continue
            parts = [TopicPartition(name, p) for p in meta.topics[name].partitions]
            committed = consumer.committed(parts, timeout=10)
            done = newest = 0
            for tp in committed:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                done += tp.offset if tp.offset >= 0 else low
                newest += high
            result.append(TopicLag(topic, done, newest))
        return result
    finally:
        consumer.close()
