"""The local services of deploy/local: start, stop, and check that each really answers.

`deploy/local/stack.sh` installs and runs the processes; this module adds what needs the
Python clients: the pipeline's topics, and checks that speak each service's protocol.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from iiot.kafka_admin import BrokerUnreachable, broker_summary
from iiot.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_SCRIPT = REPO_ROOT / "deploy" / "local" / "stack.sh"


class StackError(RuntimeError):
    """A local service could not be started, stopped or reached."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    answering: bool
    detail: str


def run_script(verb: str, *args: str) -> None:
    """Run `deploy/local/stack.sh VERB`, its output going straight to the terminal."""
    if not STACK_SCRIPT.exists():
        raise StackError(f"{STACK_SCRIPT} is missing: `iiot stack` needs a checkout of the repo")
    result = subprocess.run(["bash", str(STACK_SCRIPT), verb, *args], check=False)
    if result.returncode != 0:
        raise StackError(f"deploy/local/stack.sh {verb} failed (exit {result.returncode})")


def _check_kafka(settings: Settings) -> ServiceStatus:
    try:
        return ServiceStatus("kafka", settings.kafka_bootstrap, True, broker_summary(settings))
    except BrokerUnreachable as exc:
        return ServiceStatus("kafka", settings.kafka_bootstrap, False, str(exc))


def _check_postgres(settings: Settings) -> ServiceStatus:
    url = urlsplit(settings.pg_writer_dsn)
    address = f"{url.hostname}:{url.port or 5432}{url.path}"
    try:
        with psycopg.connect(settings.pg_writer_dsn, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            timescale = conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
    except psycopg.Error as exc:
        return ServiceStatus("postgresql", address, False, " ".join(str(exc).split()))
    flavour = "with TimescaleDB" if timescale and timescale[0] else "without TimescaleDB"
    return ServiceStatus(
        "postgresql", address, True, f"PostgreSQL {version[0] if version else '?'}, {flavour}"
    )


def _check_mqtt(settings: Settings, timeout_s: float = 3.0) -> ServiceStatus:
    address = f"{settings.mqtt_host}:{settings.mqtt_port}"
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="iiot-stack-status")
    client.on_connect = lambda _c, _u, _f, reason, _p: (
        connected.set() if not reason.is_failure else None
    )
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        client.loop_start()
        ok = connected.wait(timeout_s)
    except OSError as exc:
        return ServiceStatus("mosquitto", address, False, f"MQTT connect failed: {exc}")
    finally:
        client.loop_stop()
        client.disconnect()
    return ServiceStatus(
        "mosquitto", address, ok, "MQTT 3.1.1 CONNACK received" if ok else "no CONNACK"
    )


def status(settings: Settings | None = None) -> list[ServiceStatus]:
    settings = settings or get_settings()
    return [_check_kafka(settings), _check_postgres(settings), _check_mqtt(settings)]
