"""A private copy of the local services, for tests that stop one on purpose.

Stopping the shared broker or database would break every other test running beside it, so
an outage test starts its own Kafka or PostgreSQL: its own state dir and free ports, through
the same deploy/local/stack.sh, and stops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cli.stack import STACK_SCRIPT
from iiot.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivateStack:
    home: Path
    ports: dict[str, int] = field(
        default_factory=lambda: {
            "KAFKA": free_port(),
            "KAFKA_CONTROLLER": free_port(),
            "PG": free_port(),
            "MQTT": free_port(),
        }
    )
    env: dict[str, str] = field(default_factory=dict)  # more for stack.sh (e.g. SASL mode)

    def run(self, verb: str, *services: str) -> None:
        env = dict(os.environ, IIOT_STACK_HOME=str(self.home), **self.env)
        env.update({f"IIOT_STACK_{name}_PORT": str(port) for name, port in self.ports.items()})
        subprocess.run(["bash", str(STACK_SCRIPT), verb, *services], env=env, check=True)

    def up(self, *services: str) -> None:
        self.run("up", *services)

    def down(self, *services: str) -> None:
        self.run("down", *services)

    def purge(self) -> None:
        self.run("purge")
        shutil.rmtree(self.home, ignore_errors=True)

    def settings(self, **overrides: object) -> Settings:
        """Settings that point at this private stack."""
        values: dict[str, object] = {
            "kafka_bootstrap": f"127.0.0.1:{self.ports['KAFKA']}",
            "pg_migrator_dsn": (
                f"postgresql://iiot_migrator:iiot_migrator@127.0.0.1:{self.ports['PG']}/iiot"
            ),
            "pg_writer_dsn": (
                f"postgresql://iiot_writer:iiot_writer@127.0.0.1:{self.ports['PG']}/iiot"
            ),
            "pg_reader_dsn": (
                f"postgresql://iiot_reader:iiot_reader@127.0.0.1:{self.ports['PG']}/iiot"
            ),
            "mqtt_port": self.ports["MQTT"],
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]
