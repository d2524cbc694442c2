"""What the Kafka client holds: the records handed to it, so that at an outage the ones it
gives back can be spooled in their handover order and with their event time.

The client reports failures only (`delivery.report.only.error`): a Python call for every
acknowledged record cost as much as the produce call itself (bench/README.md). So nobody
says which records arrived, only which came back — with topic, key and value, but without
their timestamp, and not in the order they were handed over (the client reports purged
records in no reliable order). A ring of the records handed over last gives both back.

A batch record (producers/packer.py) is kept by the `hash()` of its value, not its bytes:
up to 128 KiB each, 100,000 of them would hold gigabytes of records long delivered. A
returned record is found by its bytes, or else by their hash.

The client never holds more than `queue.buffering.max.messages` records, and the ring is
that long, so a record comes back while it is still in the ring unless more than that many
newer records were delivered meanwhile (one partition stuck while the others flow). Such a
record is spooled ahead of the others, which are newer, with the time it came back as its
timestamp; nothing is lost either way.
"""

from __future__ import annotations

import time
from collections import deque

from producers.spool import Record

# (topic, key, value or the hash() of a batch record's value, ts)
Handed = tuple[str, bytes | None, bytes | int | None, int]
Returned = tuple[str, bytes | None, bytes | None]  # (topic, key, value)


class Held:
    """The last `capacity` records handed to the client, oldest first."""

    def __init__(self, capacity: int) -> None:
        self._ring: deque[Handed] = deque(maxlen=capacity)
        self.append = self._ring.append  # the hot path calls this directly

    def __len__(self) -> int:
        return len(self._ring)

    def event_time(self, topic: str, key: bytes | None, value: bytes | None) -> int | None:
        """The timestamp of the newest record handed over with these bytes, if still known."""
        digest = hash(value)
        for t, k, v, ts in reversed(self._ring):
            if v in (value, digest) and k == key and t == topic:
                return ts
        return None

    def take_back(self, returned: list[Returned]) -> list[Record]:
        """The returned records in handover order, with their timestamps; the ring is cleared
        (the client holds nothing any more)."""
        # A record's place in the ring is its handover order: no number travels with it.
        where: dict[tuple[str, bytes | None, bytes | int | None], list[tuple[int, int]]] = {}
        for number, (topic, key, value, ts) in enumerate(self._ring):
            where.setdefault((topic, key, value), []).append((number, ts))
        self._ring.clear()
        now_ms = time.time_ns() // 1_000_000
        ordered: list[tuple[int, int, Record]] = []
        for arrival, (topic, key, value) in enumerate(returned):
            copies = where.get((topic, key, value)) or where.get((topic, key, hash(value)))
            # Per partition, what the client gives back is its newest records: the newest
            # copy of identical bytes (an injected duplicate) is the one that came back.
            number, ts = copies.pop() if copies else (-1, now_ms)  # (-1: before the ring)
            ordered.append((number, arrival, Record(topic, key, value, ts)))
        ordered.sort(key=lambda entry: entry[:2])
        return [record for _, _, record in ordered]
