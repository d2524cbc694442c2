"""Topics read into a recording (`iiot record`, docs/recording.md).

Each partition is read from a start (its first record, the end, or the first record at or
after a time) up to where it ended when the recording began, so a recording is finite and
the same topics give the same records; `follow` reads on until stopped. No consumer group
commits anything: recording changes nothing on the broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from iiot.kafka_security import kafka_config
from iiot.recording import Recorded
from iiot.settings import Settings

POLL_S = 0.5
METADATA_TIMEOUT_S = 10.0


class RecordError(Exception):
    """Why the topics cannot be recorded: one line for the user."""


@dataclass
class Reach:
    """Where each partition is read from and up to (exclusive); done ones are removed."""

    start: dict[tuple[str, int], int] = field(default_factory=dict)
    end: dict[tuple[str, int], int] = field(default_factory=dict)

    def total(self) -> int:
        return sum(max(0, self.end[tp] - self.start[tp]) for tp in self.end)


class Recorder:
    def __init__(
        self,
        settings: Settings,
        topics: list[str],
        *,
        since: datetime | str = "earliest",
        until_ms: int | None = None,
        follow: bool = False,
    ) -> None:
        """`topics`: logical names. `since`: "earliest", "latest" or a time. `until_ms`: a
        partition ends at its first record after this time."""
        self.settings, self.prefix = settings, settings.topic_prefix
        self.topics, self.since, self.until_ms, self.follow = topics, since, until_ms, follow
        self.consumer = Consumer(
            {
                **kafka_config(settings),
                "group.id": f"iiot-record-{uuid.uuid4().hex[:8]}",  # never committed
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "log_level": 0,
            }
        )
        self.reach = Reach()
        self.read = 0

    def plan(self) -> Reach:
        """Assign every partition of the topics at its start; fix where each ends."""
        consumer, reach = self.consumer, self.reach
        try:
            meta = consumer.list_topics(timeout=METADATA_TIMEOUT_S).topics
        except KafkaException as exc:
            raise RecordError(f"Kafka at {self.settings.kafka_bootstrap} did not answer "
                              f"({exc.args[0].str()})") from None  # fmt: skip
        partitions = []
        for topic in self.topics:
            name = self.prefix + topic
            if name not in meta or meta[name].error is not None:
                raise RecordError(f"topic {name} does not exist on {self.settings.kafka_bootstrap}")
            partitions += [TopicPartition(name, p) for p in sorted(meta[name].partitions)]
        starts = self._starts(partitions)
        for tp in starts:
            low, high = consumer.get_watermark_offsets(tp, timeout=METADATA_TIMEOUT_S)
            key = (tp.topic, tp.partition)
            offset = {OFFSET_BEGINNING: low, OFFSET_END: high}.get(tp.offset, tp.offset)
            reach.start[key] = high if offset < 0 else max(offset, low)  # past the end: none
            if not self.follow:
                reach.end[key] = high
        consumer.assign(starts)
        return reach

    def _starts(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        if self.since == "earliest":
            return [TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in partitions]
        if self.since == "latest":
            return [TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in partitions]
        assert isinstance(self.since, datetime)
        at_ms = int(self.since.timestamp() * 1000)
        asked = [TopicPartition(tp.topic, tp.partition, at_ms) for tp in partitions]
        return list(self.consumer.offsets_for_times(asked, timeout=METADATA_TIMEOUT_S))

    def records(
        self,
        stop: Callable[[], bool],
        most: int | None = None,
        idle: Callable[[], None] = lambda: None,
    ) -> Iterator[Recorded]:
        """The records, in the order they are read (each partition's in offset order),
        until every partition reached its end, `most` were read, or `stop()`; `idle()`
        whenever nothing came for a moment."""
        consumer, end, until = self.consumer, self.reach.end, self.until_ms
        open_ = {k for k in self.reach.start if self.follow or self.reach.start[k] < end[k]}
        while open_ and not stop() and (most is None or self.read < most):
            message = consumer.poll(POLL_S)
            if message is None:
                idle()
                continue
            key = (message.topic(), message.partition())
            error, offset = message.error(), message.offset() or 0
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:  # nothing more now
                    if not self.follow and key in end and offset >= end[key]:
                        open_.discard(key)
                    continue
                raise RecordError(f"reading {key[0]}: {error.str()}")
            if key not in open_:
                continue  # ended (its end, or a record after --to): what follows is not ours
            if not self.follow and offset >= end[key]:
                open_.discard(key)
                continue
            stamp = message.timestamp()[1]
            if until is not None and stamp > until:
                open_.discard(key)
                continue
            self.read += 1
            yield _recorded(message, self.prefix)
            if not self.follow and offset + 1 >= end[key]:
                open_.discard(key)

    def close(self) -> None:
        self.consumer.close()


def _recorded(message: Any, prefix: str) -> Recorded:
    topic: str = message.topic()
    _, stamp = message.timestamp()
    return Recorded(
        topic=topic.removeprefix(prefix) if prefix else topic,
        key=message.key(),
        value=message.value(),
        timestamp_ms=stamp if stamp >= 0 else None,
        headers=tuple(message.headers() or ()),
        partition=message.partition(),
        offset=message.offset(),
    )
