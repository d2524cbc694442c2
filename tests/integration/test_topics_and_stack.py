"""The pipeline's topics on the real broker, and `iiot stack status`."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType
from typer.testing import CliRunner

from cli.main import app
from iiot import kafka_admin, topics
from iiot.settings import Settings

pytestmark = pytest.mark.integration


def test_topics_exist_with_their_layout(kafka: Settings) -> None:
    assert kafka_admin.ensure_topics(kafka) == []  # created by the fixture; again is harmless
    client = kafka_admin.admin_client(kafka)
    metadata = client.list_topics(timeout=10).topics
    for spec in topics.specs(kafka):
        assert len(metadata[topics.name(spec.topic, kafka)].partitions) == spec.partitions
    registry = ConfigResource(ResourceType.TOPIC, topics.name(topics.Topic.REGISTRY, kafka))
    config = client.describe_configs([registry])[registry].result(timeout=10)
    assert config["cleanup.policy"].value == "compact"


def test_stack_status_shows_every_service_answering() -> None:
    result = CliRunner().invoke(app, ["stack", "status"])
    assert result.exit_code == 0, result.output
    for service in ("kafka", "postgresql", "mosquitto"):
        assert service in result.stdout
    assert result.stdout.count("answering") == 3
