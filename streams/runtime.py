"""How a stream worker process runs Faust, for `iiot stream` and bench/faust_floor.py alike.

Faust's own per-record machinery, not our window logic, bounds a worker (bench/README.md,
"Stream worker"). These settings take cost out of it without changing what it does:
- uvloop, the event loop in C (Faust's own `uvloop` extra): Faust hands every record on
  through futures, tasks and queues, so most of its time is the event loop's;
- a Monitor that keeps no statistics per record: Faust's default one times and counts every
  message and event (four calls a record) for its web stats page, which the worker has
  switched off; the worker keeps its own counters;
- fewer, bigger fetches and hand-overs from Faust's consumer thread.
"""

from __future__ import annotations

from typing import Any

from faust.sensors import Monitor


class QuietMonitor(Monitor):
    """Faust's Monitor without its per-record bookkeeping (the rest, e.g. the end offsets
    Faust's consumer reports to it, stays)."""

    def on_message_in(self, *args: Any) -> None:
        pass

    def on_stream_event_in(self, *args: Any) -> None:
        return None  # no state to hand to on_stream_event_out

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_message_out(self, *args: Any) -> None:
        pass


FAUST_SETTINGS: dict[str, Any] = {
    "Monitor": QuietMonitor,
    "stream_buffer_maxsize": 16_384,
    "consumer_max_fetch_size": 8 * 1024 * 1024,
    "broker_max_poll_records": 5_000,
}


def use_uvloop() -> None:
    """Run this process's asyncio on uvloop: call before the Faust app is created."""
    import mode.loop

    mode.loop.use("uvloop")
