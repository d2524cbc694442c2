"""Alarm episodes of one device: raised once, cleared once — never once per sample.

Pure Python: the worker keeps an `AlarmState` per device in a changelogged table. Alarms
that follow the state (down too long, offline) look at readings in event-time order, newest
only; alarms about KPIs (OEE low, performance above 1.05, counter reset) look at final
windows, whose numbers no longer change. Both are in event time, so a replay raises the
same alarms at the same times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from iiot.oee import from_ms
from iiot.results import Alarm, AlarmKind, OeeWindow


@dataclass(frozen=True, slots=True)
class AlarmRules:
    down_after_s: float = 300.0
    oee_low: float = 0.40
    oee_low_windows: int = 3
    performance_high: float = 1.05


@dataclass(slots=True)
class AlarmState:
    open: dict[str, int] = field(default_factory=dict)  # kind → raised_at (ms)
    down_since_ms: int | None = None
    newest_ms: int | None = None
    low_windows: int = 0

    def _raise(
        self, device_id: str, kind: AlarmKind, at_ms: int, message: str,
        value: float | None = None, threshold: float | None = None,
    ) -> list[Alarm]:  # fmt: skip
        if kind in self.open:
            return []
        self.open[kind] = at_ms
        return [_alarm(device_id, kind, "raised", at_ms, at_ms, message, value, threshold)]

    def _clear(self, device_id: str, kind: AlarmKind, at_ms: int, message: str) -> list[Alarm]:
        raised_at = self.open.pop(kind, None)
        if raised_at is None:
            return []
        return [_alarm(device_id, kind, "cleared", max(at_ms, raised_at), raised_at, message)]

    def on_reading(
        self, device_id: str, ts_ms: int, state: str, rules: AlarmRules,
        max_gap_ms: int | None = None,
    ) -> list[Alarm]:  # fmt: skip
        """A reading accepted for the device; only the newest ones move alarms.

        With `max_gap_ms`, a gap before this reading raises the offline episode the sweep
        should have raised (and this reading clears it): the sweep misses a silence whose
        samples came in one burst (held for their birth, or read in one batch)."""
        if self.newest_ms is not None and ts_ms <= self.newest_ms:
            return []
        alarms: list[Alarm] = []
        if max_gap_ms is not None and self.newest_ms is not None:
            alarms += self.on_silence(device_id, ts_ms, max_gap_ms)
        self.newest_ms = ts_ms
        alarms += self._clear(device_id, "offline", ts_ms, "reporting again")
        if state != "down":
            self.down_since_ms = None
            return alarms + self._clear(device_id, "down_too_long", ts_ms, f"now {state}")
        if self.down_since_ms is None:
            self.down_since_ms = ts_ms
        down_s = (ts_ms - self.down_since_ms) / 1000
        if down_s >= rules.down_after_s:
            alarms += self._raise(
                device_id, "down_too_long", ts_ms,
                f"down for {down_s / 60:.0f} min", down_s, rules.down_after_s,
            )  # fmt: skip
        return alarms

    def on_silence(self, device_id: str, now_ms: int, max_gap_ms: int) -> list[Alarm]:
        """The partition's event time moved on; is the device silent beyond max_gap?"""
        if self.newest_ms is None or now_ms - self.newest_ms <= max_gap_ms:
            return []
        silent_s = (now_ms - self.newest_ms) / 1000
        return self._raise(
            device_id, "offline", self.newest_ms + max_gap_ms,
            f"no data for {silent_s:.0f} s", silent_s, max_gap_ms / 1000,
        )  # fmt: skip

    def on_final_window(self, device_id: str, w: OeeWindow, rules: AlarmRules) -> list[Alarm]:
        """A device window that will not change any more, in window order."""
        at_ms = round(w.window_end.timestamp() * 1000)
        alarms: list[Alarm] = []
        if w.oee is not None:
            self.low_windows = self.low_windows + 1 if w.oee < rules.oee_low else 0
            if self.low_windows >= rules.oee_low_windows:
                alarms += self._raise(
                    device_id, "oee_low", at_ms,
                    f"OEE {w.oee:.0%} for {self.low_windows} windows", w.oee, rules.oee_low,
                )  # fmt: skip
            elif self.low_windows == 0:
                alarms += self._clear(device_id, "oee_low", at_ms, f"OEE back to {w.oee:.0%}")
        if w.performance is not None and w.performance > rules.performance_high:
            alarms += self._raise(
                device_id, "performance_suspect", at_ms,
                f"performance {w.performance:.0%}: is the ideal cycle time right?",
                w.performance, rules.performance_high,
            )  # fmt: skip
        elif w.performance is not None:
            alarms += self._clear(device_id, "performance_suspect", at_ms, "performance ≤ limit")
        return alarms

    def on_counter_reset(self, device_id: str, final_resets: int, at_ms: int) -> list[Alarm]:
        """A final window with (or without) a counter reset: one episode per reset run."""
        if final_resets:
            return self._raise(device_id, "counter_reset", at_ms, "a part counter went down")
        return self._clear(device_id, "counter_reset", at_ms, "counters rising again")

    def persistent(self) -> tuple[dict[str, int], int | None, int]:
        """What must survive a restart (the newest time is learnt again from samples)."""
        return (dict(self.open), self.down_since_ms, self.low_windows)

    def dumps(self) -> bytes:
        return orjson.dumps([self.open, self.down_since_ms, self.newest_ms, self.low_windows])

    @classmethod
    def loads(cls, raw: bytes) -> AlarmState:
        open_, down_since, newest, low = orjson.loads(raw)
        return cls(open_, down_since, newest, low)


def _alarm(
    device_id: str, kind: AlarmKind, status: str, at_ms: int, raised_ms: int, message: str,
    value: float | None = None, threshold: float | None = None,
) -> Alarm:  # fmt: skip
    return Alarm(
        device_id=device_id,
        kind=kind,
        status=status,  # type: ignore[arg-type]
        ts=from_ms(at_ms),
        raised_at=from_ms(raised_ms),
        value=value,
        threshold=threshold,
        message=message,
    )
