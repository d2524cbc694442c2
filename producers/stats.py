"""What a publisher has done, for the live display, the summary and the integrator's metrics."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    """Records by what became of them. Every record handed over ends up `accepted` once:
    delivered live, written to the spool, or settled as failed."""

    handed: int = 0  # given to publish()
    sent: int = 0  # handed to the Kafka client, live or from the spool
    delivered: int = 0  # acknowledged by the broker (acks=all), live or from the spool
    spooled: int = 0  # written to the disk spool
    drained: int = 0  # delivered from the spool (part of `delivered`)
    failed: int = 0  # refused by the broker for good (e.g. too large); dead-lettered if it can be
    invalid: int = 0  # readings that broke the contract at the edge
    dead_lettered: int = 0  # dead letters handed over (invalid readings, refused records)
    taken_back: int = 0  # given back by the Kafka client to the spool: if it had been written
    # after all, it goes out twice (a replay, dropped downstream by (device_id, seq))
    accepted: int = 0  # delivered live + spooled + failed: safe from a SIGKILL from now on
    outages: int = 0  # times the publisher went from live to spooling
    refused: int = 0  # not taken, the spool being full: the caller got `SpoolFull`

    @property
    def pending(self) -> int:
        """Handed over but not yet accepted: what a SIGKILL now would lose."""
        return self.handed - self.accepted


@dataclass
class Rate:
    """Events per second over the last `window_s` seconds, from a running total."""

    window_s: float = 2.0
    _points: deque[tuple[float, int]] = field(default_factory=deque)

    def update(self, total: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._points.append((now, total))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window_s:
            self._points.popleft()
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
