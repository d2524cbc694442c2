"""`iiot registry export` then `iiot registry publish` against the real broker: the births on
iiot.registry are the simulation's, keyed by device; a bad registry file publishes nothing and
says its mistake in one line, `FILE:LINE: …`."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiot import topics
from iiot.contract import decode
from iiot.messages import DeviceBirth
from iiot.settings import Settings
from simulators import Simulation, SimulationOptions
from tests.integration.telemetry_reader import read_topic
from tests.invoke import iiot

pytestmark = pytest.mark.integration


def registry(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, str]:
    """`iiot registry ARGS` with the test's prefix (and, to publish, a spool of its own)."""
    spool = ["--spool", str(tmp_path / "spool.sqlite")] if args[0] == "publish" else []
    done = iiot("registry", *args, *spool, env={"IIOT_TOPIC_PREFIX": settings.topic_prefix})
    return done.exit_code, done.stderr


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_an_exported_registry_published_gives_the_simulations_births(
    fresh_topics: Settings, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"registry.{fmt}"
    args = ["-n", "25", "--seed", "5", "-f", fmt, "-o", str(path)]
    assert registry(fresh_topics, tmp_path, "export", *args)[0] == 0
    code, stderr = registry(fresh_topics, tmp_path, "publish", str(path))
    assert (code, stderr) == (0, "published 25, refused 0, invalid 0, spooled 0\n")

    name = topics.name(topics.Topic.REGISTRY, fresh_topics)
    messages = read_topic(fresh_topics, name, 25)
    births = {m.key(): decode(DeviceBirth, m.value()) for m in messages}
    expected = Simulation(SimulationOptions(devices=25, seed=5)).births()
    assert len(messages) == 25
    assert births == {b.device_id.encode(): b for b in expected}


def test_a_bad_registry_file_publishes_nothing_and_says_where(
    fresh_topics: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "registry.yaml"
    assert registry(fresh_topics, tmp_path, "export", "-n", "6", "-o", str(path))[0] == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  enterprise:")) + 1
    lines[at - 1] = "  enterprise: qd-haeir"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, stderr = registry(fresh_topics, tmp_path, "publish", str(path))
    assert code == 1
    assert stderr == (
        f"error: {path}:{at}: births.0.enterprise: unknown enterprise 'qd-haeir' "
        "(the file's enterprises: qd-haier)\n"
    )
    name = topics.name(topics.Topic.REGISTRY, fresh_topics)
    assert read_topic(fresh_topics, name, 1, timeout_s=3) == []
