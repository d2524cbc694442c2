"""Ctrl-C and SIGTERM as a counter the demo's loops read, instead of an exception that
could land anywhere (inside a Kafka or database call, half-way through a stop)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any


class Interrupts:
    """Once: stop everything cleanly. Twice: stop it now."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1

    def requested(self) -> bool:
        return self.count > 0

    def insisted(self) -> bool:
        return self.count > 1
