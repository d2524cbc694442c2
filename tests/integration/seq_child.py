"""A publisher process for the seq SIGKILL test: `python -m tests.integration.seq_child
BOOTSTRAP PREFIX SPOOL COUNT DEVICES RUN`.

It publishes COUNT readings *without* seq (the Publisher assigns it), with `product` = RUN so
the test can tell the runs apart, prints `accepted N` whenever the count of accepted records
moves, and `done` after a clean close.
"""

from __future__ import annotations

import sys

from iiot.settings import Settings
from producers.publisher import Publisher
from tests.integration.sample_maker import reading
from tests.integration.spool_child import publish_reporting


def main(bootstrap: str, prefix: str, spool: str, count: int, devices: int, run: str) -> None:
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix)
    publisher = Publisher(settings, spool)
    publish_reporting(
        publisher, lambda index: publisher.publish_reading(reading(index, devices, run)), count
    )
    publisher.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
