"""Cheap readings of a running demo, from outside the parts (they talk through topics, so
the demo watches the topics and the database as any operator could).

Kafka: high watermarks (what was published) and two consumer groups' committed offsets (what
the stream worker and the sink have finished). Database: row counts of the views, read as
the read-only role Grafana uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from psycopg import sql

from cli.demo.plan import DemoPlan
from iiot import topics
from iiot.kafka_security import kafka_config
from iiot.topics import Topic

_TIMEOUT_S = 5.0
Ends = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) → (low, high) offsets
COUNTED_VIEWS = ("v_telemetry", "v_oee", "v_digitization", "v_deadletter")


class NoAnswer(Exception):
    """Kafka did not answer a probe in time."""


@dataclass(frozen=True)
class Reading:
    published: int  # samples on the telemetry topic (births and dead letters not counted)
    newest: int  # all high watermarks of the run's topics: it moves while anything flows
    stream_lag: int  # input the stream worker has not committed yet
    sink_lag: int  # records the sink has not committed yet
    rows: dict[str, int]  # view → rows; empty while the database does not answer

    def lags(self) -> tuple[int, int]:
        return self.stream_lag, self.sink_lag

    def drained(self) -> bool:
        return self.lags() == (0, 0)


class KafkaProbe:
    """High watermarks and committed offsets, one request per partition."""

    def __init__(self, plan: DemoPlan) -> None:
        settings = plan.run_settings()
        self._names = {t: topics.name(t, settings) for t in Topic}
        self._feed = f"{plan.topic_prefix}iiot.streams.rollup-feed"  # the worker's own topic
        self._groups = {
            group: Consumer(
                {
                    **kafka_config(settings),
                    "group.id": group,
                    "enable.auto.commit": False,
                    "log_level": 0,  # a broker away shows as "…" in the panel, not a log flood
                }
            )
            for group in (plan.stream_group(), plan.sink_group())
        }
        self._stream, self._sink = self._groups.values()

    def _partitions(self, names: Iterable[str]) -> list[TopicPartition]:
        meta = self._sink.list_topics(timeout=_TIMEOUT_S).topics
        return [TopicPartition(n, p) for n in names if n in meta for p in meta[n].partitions]

    def _ends(self, parts: list[TopicPartition]) -> Ends:
        ends: Ends = {}
        for tp in parts:
            low_high = self._sink.get_watermark_offsets(tp, timeout=_TIMEOUT_S, cached=False)
            if low_high is None:  # no answer in time
                raise NoAnswer(tp.topic)
            ends[(tp.topic, tp.partition)] = low_high
        return ends

    def _lag(self, group: Consumer, parts: list[TopicPartition], ends: Ends) -> int:
        lag = 0
        for tp in group.committed(parts, timeout=_TIMEOUT_S):
            low, high = ends[(tp.topic, tp.partition)]
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag

    def read(self) -> tuple[int, int, int, int]:
        """(published samples, all newest offsets, stream lag, sink lag)."""
        parts = self._partitions([*self._names.values(), self._feed])
        ends = self._ends(parts)
        telemetry = self._names[Topic.TELEMETRY]
        published = sum(high for (name, _), (_, high) in ends.items() if name == telemetry)
        stream_in = {self._names[Topic.REGISTRY], telemetry, self._feed}
        stream_lag = self._lag(self._stream, [tp for tp in parts if tp.topic in stream_in], ends)
        sink_in = set(self._names.values())
        sink_lag = self._lag(self._sink, [tp for tp in parts if tp.topic in sink_in], ends)
        newest = sum(high for _, high in ends.values())
        return published, newest, stream_lag, sink_lag

    def close(self) -> None:
        for consumer in self._groups.values():
            consumer.close()


class DbProbe:
    """Row counts of a few views, on one read-only connection kept open."""

    def __init__(self, plan: DemoPlan) -> None:
        self._dsn = plan.settings.pg_reader_dsn
        self._schema = plan.schema
        self._conn: psycopg.Connection | None = None

    def counts(self) -> dict[str, int]:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
                self._conn.execute(
                    sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema))
                )
            return {view: self._count(self._conn, view) for view in COUNTED_VIEWS}
        except psycopg.Error:  # not migrated yet, or the database is away: no numbers now
            self.close()
            return {}

    @staticmethod
    def _count(conn: psycopg.Connection, view: str) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view))
        return int((conn.execute(query).fetchone() or (0,))[0])

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


class Probe:
    def __init__(self, plan: DemoPlan) -> None:
        self.kafka = KafkaProbe(plan)
        self.db = DbProbe(plan)

    def read(self) -> Reading | None:
        """None when Kafka does not answer in time (the next reading will tell more)."""
        try:
            published, newest, stream_lag, sink_lag = self.kafka.read()
        except (KafkaException, NoAnswer):
            return None
        return Reading(published, newest, stream_lag, sink_lag, self.db.counts())

    def close(self) -> None:
        self.kafka.close()
        self.db.close()
