"""Exec probes of the pipeline's containers, which serve no HTTP (mounted at /probe).

    python /probe/probe.py kafka postgres   ready: each named dependency takes a TCP connection
    python /probe/probe.py alive            live: the main process runs (is not stopped or zombie)

Readiness follows the dependencies, so a rollout waits for a worker that can work. Liveness does
not: a broker or database outage must not restart the workers in a loop; they wait and resume
(the simulator spools meanwhile). Addresses come from the same IIOT_* variables the pipeline
reads. Standard library only: it runs in the pipeline's image with nothing imported from it.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT_S = 3.0


def kafka_addresses() -> list[tuple[str, int]]:
    bootstrap = os.environ.get("IIOT_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    addresses = []
    for entry in bootstrap.split(","):
        host, _, port = entry.strip().rpartition(":")
        addresses.append((host, int(port)))
    return addresses


def postgres_addresses() -> list[tuple[str, int]]:
    dsn = urlsplit(os.environ.get("IIOT_PG_WRITER_DSN", "postgresql://127.0.0.1:5432/iiot"))
    return [(dsn.hostname or "127.0.0.1", dsn.port or 5432)]


DEPENDENCIES = {"kafka": kafka_addresses, "postgres": postgres_addresses}


def answers(addresses: list[tuple[str, int]]) -> bool:
    """Any one broker of the bootstrap list is enough, as it is for the clients."""
    for address in addresses:
        try:
            socket.create_connection(address, timeout=TIMEOUT_S).close()
            return True
        except OSError:
            continue
    return False


def alive() -> bool:
    # /proc/1/stat: "1 (comm) S …"; the state follows the closing parenthesis of the name.
    stat = Path("/proc/1/stat").read_text()
    return stat[stat.rindex(")") + 2] not in "ZTX"


def main(names: list[str]) -> int:
    if names == ["alive"]:
        return 0 if alive() else 1
    unknown = [n for n in names if n not in DEPENDENCIES]
    if unknown or not names:
        print(f"usage: probe.py alive | probe.py {' '.join(DEPENDENCIES)}", file=sys.stderr)
        return 2
    down = [n for n in names if not answers(DEPENDENCIES[n]())]
    for name in down:
        print(f"{name} does not answer at {DEPENDENCIES[name]()}", file=sys.stderr)
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
