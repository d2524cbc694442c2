"""Settings from IIOT_ variables, and topic names with the prefix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from iiot import topics
from iiot.settings import DigitizationWeights, Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IIOT_TOPIC_PREFIX", "replay-7.")
    monkeypatch.setenv("IIOT_GRACE_S", "30")
    monkeypatch.setenv("IIOT_DIGITIZATION_WEIGHTS__CLOUD", "0.05")
    monkeypatch.setenv("IIOT_DIGITIZATION_WEIGHTS__CONNECTIVITY", "0.35")
    settings = Settings()
    assert settings.grace_s == 30
    assert settings.digitization_weights.cloud == 0.05
    assert topics.name(topics.Topic.TELEMETRY, settings) == "replay-7.iiot.telemetry"
    assert topics.logical("replay-7.iiot.oee", settings) is topics.Topic.OEE


def test_defaults_match_design() -> None:
    settings = Settings(_env_file=None)
    assert (settings.oee_window_s, settings.digitization_window_s, settings.grace_s) == (
        60,
        3600,
        120,
    )
    assert settings.future_tolerance_s == 300 and settings.max_gap_intervals == 3


def test_weights_must_add_up_to_one() -> None:
    with pytest.raises(ValidationError, match=r"add up to 1, they add up to 1\.1"):
        DigitizationWeights(cloud=0.25)


def test_topic_layout() -> None:
    specs = {spec.topic: spec for spec in topics.specs(Settings(_env_file=None))}
    assert set(specs) == set(topics.Topic)
    assert specs[topics.Topic.REGISTRY].config["cleanup.policy"] == "compact"
    # Same key and partition count as telemetry: a device's birth sits beside its samples.
    assert specs[topics.Topic.REGISTRY].partitions == specs[topics.Topic.TELEMETRY].partitions
