"""A publisher process for the SIGKILL test: `python -m tests.integration.spool_child
BOOTSTRAP PREFIX SPOOL COUNT DEVICES`.

It publishes COUNT samples and prints `accepted N` whenever the count of accepted records
moves (the first N samples are then delivered or in the spool); COUNT 0 only drains the spool
left by an earlier run and prints `left N`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from iiot.settings import Settings
from producers.publisher import Publisher
from tests.integration.sample_maker import sample


def main(bootstrap: str, prefix: str, spool: str, count: int, devices: int) -> None:
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix)
    publisher = Publisher(settings, spool)
    if count == 0:
        print(f"left {publisher.flush(60)}", flush=True)
        publisher.close()
        return
    publish_reporting(
        publisher, lambda index: publisher.publish_sample(sample(index, devices)), count
    )
    publisher.close()


def publish_reporting(publisher: Publisher, publish: Callable[[int], object], count: int) -> None:
    """`publish(index)` for each index, printing `accepted N` whenever that count moves."""
    reported = 0
    for index in range(count):
        publish(index)
        if index % 500 == 0:
            publisher.poll(0)
            if publisher.counters.accepted != reported:
                reported = publisher.counters.accepted
                print(f"accepted {reported}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
