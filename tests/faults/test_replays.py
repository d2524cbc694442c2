"""The golden scenarios (tests/scenarios/) replayed as recorded (1×) and faster, with the
stream worker SIGKILLed once mid-replay: the same rows as at full speed without a fault
(tests/integration/test_verify.py), which are the expected ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiot.settings import Settings
from tests.invoke import iiot

# simulated is five minutes of factory time: five minutes at 1×, then the drain.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SCENARIOS = Path(__file__).parents[1] / "scenarios"


@pytest.mark.parametrize(
    ("scenario", "speed", "kill_after_s"),
    [("simulated", "1", 120), ("hand-line", "10", 30)],
)
def test_a_replay_paced_and_with_the_worker_killed_gives_the_same_rows(
    shared: Settings, scenario: str, speed: str, kill_after_s: int
) -> None:
    args = ["verify", str(SCENARIOS / scenario), "--speed", speed]
    args += ["--kill-worker-after", str(kill_after_s)]
    result = iiot(*args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "stream worker killed" in result.output
