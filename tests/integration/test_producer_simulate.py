"""`iiot simulate` end to end on the shared broker: what it says it delivered is on the topic,
and the simulator's injected malformed payloads are there as they were made (unvalidated), for
the stream's dead-letter path to find."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iiot import kafka_admin, topics
from iiot.contract import ContractError, decode
from iiot.messages import Sample
from iiot.settings import Settings
from tests.integration.telemetry_reader import read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEVICES = 20


@pytest.fixture
def own_prefix(kafka: Settings) -> Iterator[Settings]:
    """Topics of this test's own, which `iiot simulate` creates; deleted afterwards."""
    settings = kafka.model_copy(update={"topic_prefix": f"{kafka.topic_prefix}simulate."})
    yield settings
    kafka_admin.delete_prefixed_topics(settings.topic_prefix, settings)


def test_simulate_publishes_every_record_and_passes_injected_faults_through(
    own_prefix: Settings, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "iiot.cli", "simulate", "--devices", str(DEVICES)]
    command += ["--speed", "max", "--duration", "600", "--json"]
    command += ["--fault", "malformed=0.02", "--fault", "duplicate=0.01"]
    command += ["--spool", str(tmp_path / "spool.sqlite")]
    env = dict(os.environ, IIOT_TOPIC_PREFIX=own_prefix.topic_prefix)
    env["IIOT_KAFKA_BOOTSTRAP"] = own_prefix.kafka_bootstrap
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["delivered"] == summary["handed"] == summary["accepted"]
    assert summary["spooled"] == summary["left_in_spool"] == summary["failed"] == 0
    injected = summary["injected"]
    assert injected["malformed"] > 0 and injected["duplicate"] > 0

    telemetry = summary["handed"] - DEVICES  # the births go to the registry
    received = read_topic(own_prefix, topics.name(topics.Topic.TELEMETRY, own_prefix), telemetry)
    assert len(received) == telemetry
    malformed = 0
    for message in received:
        try:
            decode(Sample, message.value())
        except ContractError:
            malformed += 1
    assert malformed == injected["malformed"]
    births = read_topic(own_prefix, topics.name(topics.Topic.REGISTRY, own_prefix), DEVICES)
    assert len(births) == DEVICES
