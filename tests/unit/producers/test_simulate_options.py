"""`iiot simulate` options: speed and fault rates parse, and bad ones fail in one line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from cli.simulate import parse_faults, parse_speed, parse_start
from producers.stats import Rate

runner = CliRunner()


def test_speed_is_a_factor_or_max() -> None:
    assert parse_speed("max") is None
    assert parse_speed("60") == 60.0
    assert parse_speed("0.5") == 0.5
    for bad in ("fast", "-1", ""):
        with pytest.raises(typer.BadParameter, match="positive number or 'max'"):
            parse_speed(bad)


def test_faults_repeat_and_may_be_comma_separated() -> None:
    assert parse_faults(["duplicate=0.01", "malformed=0.001,late=0.002"]) == {
        "duplicate": 0.01,
        "malformed": 0.001,
        "late": 0.002,
    }
    with pytest.raises(typer.BadParameter, match="looks like"):
        parse_faults(["duplicate"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "meteor=0.1"], "faults.meteor"),
        (["--fault", "duplicate=2"], "faults.duplicate"),
        (["--speed", "fast"], "positive number or 'max'"),
        (["--start", "yesterday"], "'now' or like"),
    ],
)
def test_bad_options_fail_before_anything_is_published(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_rate_is_per_second_over_the_window() -> None:
    rate = Rate(window_s=2.0)
    assert rate.update(0, now=0.0) == 0.0
    assert rate.update(1_000, now=1.0) == 1_000.0
    assert rate.update(5_000, now=3.0) == pytest.approx(2_000.0)  # (5000 − 1000) / 2 s


def test_start_is_now_to_the_second_or_an_iso_time_in_utc() -> None:
    now = datetime(2026, 11, 26, 9, 30, 15, 812_000, tzinfo=UTC)
    assert parse_start("now", lambda: now) == now.replace(microsecond=0)
    assert parse_start("2026-11-26T08:00:00Z") == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert parse_start("2026-11-26T16:00:00+08:00") == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert parse_start("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="'now' or like"):
        parse_start("yesterday")
