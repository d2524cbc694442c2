"""Which hours `iiot db maintain` refreshes in the downtime roll-up (sinks/state_rollup.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sinks.state_rollup import closed_hours

H = timedelta(hours=1)
T = datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_a_first_run_starts_at_the_hour_of_the_oldest_sample() -> None:
    assert closed_hours(None, T + 20 * timedelta(minutes=1), T + 3 * H + 1 * H / 4) == [
        (T, T + 3 * H)
    ]


def test_later_runs_start_three_hours_before_the_mark() -> None:
    assert closed_hours(T, None, T + H + H / 2) == [(T - 3 * H, T + H)]


def test_nothing_while_no_hour_closed_since_the_mark() -> None:
    assert closed_hours(T + H, None, T + H + H / 2) == []
    assert closed_hours(None, None, T) == []  # no sample yet


def test_a_long_way_back_goes_a_day_a_transaction() -> None:
    spans = closed_hours(None, T, T + 50 * H)
    assert spans == [(T, T + 24 * H), (T + 24 * H, T + 48 * H), (T + 48 * H, T + 50 * H)]
