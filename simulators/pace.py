"""Pacing: simulated time against wall time (real time, N× faster, or as fast as possible)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from simulators.simulation import Emitted

_CHECK_EVERY_MS = 10  # look at the wall clock once per 10 simulated ms, not per record


def pace(
    events: Iterable[Emitted],
    speed: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Emitted]:
    """Yield `events`, sleeping so that simulated time runs at `speed`× wall time.

    Pacing follows delivery time (`due_ms`), not event time, so a late or clock-skewed
    record neither stalls nor rushes the stream. None or 0 = as fast as possible: `events`
    as they are (no generator in between, which would cost per record).
    """
    if not speed:
        return iter(events)
    if speed < 0:
        raise ValueError(f"speed must be positive, not {speed}")
    return _paced(events, speed, clock, sleep)


def _paced(
    events: Iterable[Emitted],
    speed: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[Emitted]:
    sim0: int | None = None
    wall0 = 0.0
    checked_ms = -_CHECK_EVERY_MS
    for event in events:
        sim_ms = event.timestamp_ms if event.due_ms is None else event.due_ms
        if sim0 is None:
            sim0, wall0 = sim_ms, clock()
        if sim_ms - checked_ms >= _CHECK_EVERY_MS:
            checked_ms = sim_ms
            ahead = wall0 + (sim_ms - sim0) / 1000 / speed - clock()
            if ahead > 0:
                sleep(ahead)
        yield event
