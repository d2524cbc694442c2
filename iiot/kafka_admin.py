"""Creating and checking topics with confluent-kafka's AdminClient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from iiot import topics
from iiot.kafka_security import kafka_config
from iiot.settings import Settings, get_settings


class BrokerUnreachable(RuntimeError):
    """Kafka did not answer at the configured bootstrap address, or refused our credentials."""


# Errors that mean "wrong credentials or TLS setup", not "away": retrying will not help.
_REFUSED = {KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def admin_client(
    settings: Settings | None = None,
    *,
    quiet: bool = False,
    on_error: Callable[[KafkaError], None] | None = None,
) -> AdminClient:
    settings = settings or get_settings()
    config: dict[str, Any] = kafka_config(settings)
    if quiet:  # the caller reports failure in one line; no librdkafka retry log on stderr
        config["log_level"] = 0
    if on_error is not None:
        config["error_cb"] = on_error
    return AdminClient(config)


def broker_summary(settings: Settings | None = None, timeout_s: float = 5.0) -> str:
    """One line about the cluster, or `BrokerUnreachable`."""
    settings = settings or get_settings()
    refusals: list[KafkaError] = []  # a wrong password shows here, not in list_topics' error

    def on_error(err: KafkaError) -> None:
        if err.code() in _REFUSED:
            refusals.append(err)

    client = admin_client(settings, quiet=True, on_error=on_error)
    try:
        meta = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        client.poll(0)  # serves the error callbacks
        where = f"Kafka at {settings.kafka_bootstrap}"
        if refusals and refusals[0].code() == KafkaError._SSL:
            raise BrokerUnreachable(
                f"{where}: TLS failed: {_first_line(refusals[0].str())}"
            ) from None
        if refusals:
            raise BrokerUnreachable(
                f"{where} refused {settings.kafka_security_protocol} user "
                f"{settings.kafka_username!r}: {_first_line(refusals[0].str())}"
            ) from None
        raise BrokerUnreachable(f"{where} did not answer: {exc.args[0].str()}") from None
    return f"{len(meta.brokers)} broker(s), cluster {meta.cluster_id}, {len(meta.topics)} topics"


def ensure_topics(settings: Settings | None = None, timeout_s: float = 30.0) -> list[str]:
    """Create the pipeline's topics that are missing; returns the names created."""
    settings = settings or get_settings()
    wanted = [
        (topics.name(spec.topic, settings), spec.partitions, spec.config)
        for spec in topics.specs(settings)
    ]
    return ensure_named_topics(wanted, settings, timeout_s)


def ensure_named_topics(
    wanted: list[tuple[str, int, dict[str, str]]],
    settings: Settings | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics (name, partitions, config) that are missing; returns those created.

    Raises `BrokerUnreachable` (one line) when Kafka does not answer.
    """
    broker_summary(settings, timeout_s=min(timeout_s, 10.0))
    client = admin_client(settings, quiet=True)
    new = [NewTopic(name, partitions, config=config) for name, partitions, config in wanted]
    created = []
    for topic_name, future in client.create_topics(new, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(topic_name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def delete_prefixed_topics(prefix: str, settings: Settings | None = None) -> list[str]:
    """Delete every topic whose name starts with `prefix` (test clean-up)."""
    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    client = admin_client(settings)
    doomed = [t for t in client.list_topics(timeout=10).topics if t.startswith(prefix)]
    if doomed:
        for future in client.delete_topics(doomed, operation_timeout=30).values():
            try:
                future.result(timeout=30)
            except KafkaException as exc:  # listed from metadata a deletion had not reached
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
    return doomed
