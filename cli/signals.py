"""SIGINT (Ctrl-C) and SIGTERM (docker stop, Kubernetes, the demo's children) alike, for every
long-running command: a counter the command's loop reads, instead of an exception that could
land anywhere (inside a Kafka or database call, half-way through a flush)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any


class StopSignals:
    """Once: stop cleanly (flush, commit, close). Twice: `then_at_once` runs, if given."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, then_at_once: Callable[[], None] | None = None) -> None:
        self.count = 0
        self._at_once = then_at_once
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1 and self._at_once is not None:
            self._at_once()

    def requested(self) -> bool:
        return self.count > 0

    def insisted(self) -> bool:
        return self.count > 1

    def as_flag(self) -> Mapping[str, bool]:
        """The producer's view of it: `stop["stop"]` (producers/run.py reads that)."""
        return _Flag(self)


class _Flag(Mapping[str, bool]):
    def __init__(self, signals: StopSignals) -> None:
        self._signals = signals

    def __getitem__(self, key: str) -> bool:
        if key != "stop":
            raise KeyError(key)
        return self._signals.requested()

    def __iter__(self) -> Iterator[str]:
        return iter(("stop",))

    def __len__(self) -> int:
        return 1


def interrupt_now() -> None:
    """`then_at_once` for a loop with nothing to abort: unwind it as Ctrl-C always did."""
    raise KeyboardInterrupt
