"""Topic names and their layout (docs/contract.md, "Topics").

The names here are the logical ones; `name()` adds `IIOT_TOPIC_PREFIX`, `logical()` takes
it off again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from iiot.settings import Settings, get_settings

DAY_MS = 86_400_000


class Topic(StrEnum):
    REGISTRY = "iiot.registry"
    TELEMETRY = "iiot.telemetry"
    OEE = "iiot.oee"
    DIGITIZATION = "iiot.digitization"
    ALARMS = "iiot.alarms"
    DEADLETTER = "iiot.deadletter"


@dataclass(frozen=True)
class TopicSpec:
    topic: Topic
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def name(topic: Topic, settings: Settings | None = None) -> str:
    """The topic's name on the broker, with the configured prefix."""
    settings = settings or get_settings()
    return f"{settings.topic_prefix}{topic.value}"


def logical(broker_name: str, settings: Settings | None = None) -> Topic:
    """The logical topic of a broker topic name (the prefix stripped)."""
    settings = settings or get_settings()
    prefix = settings.topic_prefix
    if prefix and broker_name.startswith(prefix):
        broker_name = broker_name[len(prefix) :]
    return Topic(broker_name)


def specs(settings: Settings | None = None) -> list[TopicSpec]:
    """Partition counts and configs of every topic.

    The registry has as many partitions as telemetry and the same key (device_id), so a
    stream worker finds a device's birth in the partition it already owns.
    """
    settings = settings or get_settings()
    n = settings.telemetry_partitions
    results = settings.result_partitions
    month = str(30 * DAY_MS)
    telemetry_ms = settings.kafka_telemetry_retention_days * DAY_MS
    kept_results = {"cleanup.policy": "compact,delete", "retention.ms": month}
    return [
        TopicSpec(
            Topic.REGISTRY, n, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
        ),
        TopicSpec(Topic.TELEMETRY, n, {"retention.ms": str(telemetry_ms or -1)}),
        # Results are re-emitted under the same key when a window is corrected;
        # compaction keeps the newest revision, retention keeps the topic bounded.
        TopicSpec(Topic.OEE, results, kept_results),
        TopicSpec(Topic.DIGITIZATION, results, kept_results),
        TopicSpec(Topic.ALARMS, results, {"retention.ms": month}),
        TopicSpec(Topic.DEADLETTER, results, {"retention.ms": month}),
    ]
