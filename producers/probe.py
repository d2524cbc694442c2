"""Is the broker back? Asked from a side thread, so spooling never waits on a timeout."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient


class BrokerProbe:
    """While `watch()`ed, asks for cluster metadata every `interval_s`; `up` is set once the
    broker answers. `idle()` stops asking (the publisher is live again)."""

    def __init__(
        self, config: dict[str, Any], interval_s: float = 0.5, timeout_s: float = 2.0
    ) -> None:
        self.up = threading.Event()
        self._watching = threading.Event()
        self._closed = threading.Event()
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        # The client's own config (iiot/kafka_security.py): a SASL or TLS broker asks for it.
        self._admin = AdminClient({**config, "log_level": 0})
        self._thread = threading.Thread(target=self._run, name="broker-probe", daemon=True)
        self._thread.start()

    def watch(self) -> None:
        self.up.clear()
        self._watching.set()

    def idle(self) -> None:
        self._watching.clear()

    def close(self) -> None:
        self._closed.set()
        self._watching.set()  # wake the thread so it sees `closed`
        self._thread.join(timeout=self._timeout_s + 1)

    def _run(self) -> None:
        while self._watching.wait() and not self._closed.is_set():
            try:
                metadata = self._admin.list_topics(timeout=self._timeout_s)
                if metadata.brokers:
                    self.up.set()
                    self._watching.clear()
            except KafkaException:
                pass  # still away: ask again
            self._closed.wait(self._interval_s)
