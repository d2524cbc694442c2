"""Topics of a test's own, ready to be read (conftest.py's `fresh_topics` fixture)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from iiot import kafka_admin, topics
from iiot.settings import Settings


def fresh_topics(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test alone, their partitions led: it reads them whole."""
    prefix = f"{kafka.topic_prefix}pub-{uuid.uuid4().hex[:6]}."
    settings = kafka.model_copy(update={"topic_prefix": prefix})
    kafka_admin.ensure_topics(settings)
    wait_for_leaders(settings)
    yield settings
    kafka_admin.delete_prefixed_topics(prefix, settings)


def wait_for_leaders(settings: Settings) -> None:
    """A new topic is read only once its partitions have leaders: a consumer that asks
    before sees `UNKNOWN_TOPIC_OR_PART`."""
    admin = kafka_admin.admin_client(settings)
    names = {topics.name(topic, settings) for topic in topics.Topic}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = admin.list_topics(timeout=5).topics
        if all(n in listed and all(p.leader >= 0 for p in listed[n].partitions.values())
               for n in names):  # fmt: skip
            return
        time.sleep(0.1)
    pytest.fail(f"the topics {sorted(names)} have no leaders after 30 s")
