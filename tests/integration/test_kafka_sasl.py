"""The pipeline against a broker that asks for SASL (SCRAM-SHA-512), on a private stack.

The shared broker stays PLAINTEXT; this module starts its own through deploy/local/stack.sh
with IIOT_STACK_KAFKA_SCRAM_PASSWORD (a SASL_PLAINTEXT listener, user iiot) and
IIOT_STACK_KAFKA_TLS_DIR/_PORT (a SASL_SSL listener too, its certificate signed by a CA made
here with openssl). Every client gets its security from the IIOT_KAFKA_* settings: the
Publisher (producer), `iiot stream` (Faust/aiokafka), the sink (consumer and dead-letter
producer) and the admin client. A wrong password, or an unknown CA, is refused in one line.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from iiot import kafka_admin
from iiot.contract import decode
from iiot.messages import DeviceBirth, Sample
from iiot.settings import Settings
from producers.publisher import Publisher
from sinks.consumer import Sink
from sinks.migrate import migrate
from sinks.sink_status import SinkStats
from sinks.tables import ROUTES
from tests.integration import sink_support as s
from tests.integration.private_stack import PrivateStack, free_port

pytestmark = pytest.mark.integration

PASSWORD = secrets.token_hex(12)
DEVICES, PER_DEVICE = 4, 50  # 5 s apart: minutes 0…4 of event time


def make_certificates(directory: Path) -> Path:
    """A CA, and the broker's key and certificate (for 127.0.0.1) signed by it; the CA file."""

    def openssl(command: str) -> None:
        subprocess.run(
            ["openssl", *command.split()], cwd=directory, check=True, capture_output=True
        )

    openssl("req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=ca")
    openssl("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt "
        "-days 1 -extfile san.ext"
    )
    # Kafka's PEM keystore: the (PKCS#8) key, then the certificate, in one file.
    key, certificate = (directory / "server.key").read_text(), directory / "server.crt"
    (directory / "server.pem").write_text(key + certificate.read_text())
    return directory / "ca.pem"


@pytest.fixture(scope="module")
def sasl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    tls = tmp_path_factory.mktemp("sasl-tls")
    make_certificates(tls)
    stack = PrivateStack(
        tmp_path_factory.mktemp("sasl-stack"),
        env={"IIOT_STACK_KAFKA_SCRAM_PASSWORD": PASSWORD, "IIOT_STACK_KAFKA_TLS_DIR": str(tls)},
    )
    stack.ports["KAFKA_TLS"] = free_port()
    stack.up("kafka")
    yield stack
    stack.purge()


def sasl_settings(
    stack: PrivateStack, password: str, protocol: str = "SASL_PLAINTEXT", **overrides: object
) -> Settings:
    shared_pg = Settings()  # PostgreSQL: the shared one (own schema); Kafka: the private one
    tls: dict[str, object] = {}
    if protocol == "SASL_SSL":
        tls_dir = Path(stack.env["IIOT_STACK_KAFKA_TLS_DIR"])
        tls = {
            "kafka_bootstrap": f"127.0.0.1:{stack.ports['KAFKA_TLS']}",
            "kafka_ssl_ca_file": str(tls_dir / "ca.pem"),
        }
    return stack.settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="iiot",
        kafka_password=password,
        pg_migrator_dsn=shared_pg.pg_migrator_dsn,
        pg_writer_dsn=shared_pg.pg_writer_dsn,
        pg_reader_dsn=shared_pg.pg_reader_dsn,
        **(tls | overrides),
    )


def env_of(settings: Settings) -> dict[str, str]:
    """The settings a child process needs, as IIOT_* variables."""
    names = (
        "topic_prefix", "kafka_bootstrap", "kafka_security_protocol", "kafka_sasl_mechanism",
        "kafka_username", "kafka_ssl_ca_file", "pg_schema", "telemetry_partitions",
        "result_partitions",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("IIOT_")}
    env |= {f"IIOT_{n.upper()}": str(getattr(settings, n)) for n in names}
    env["IIOT_KAFKA_PASSWORD"] = settings.kafka_password.get_secret_value()
    env["IIOT_STREAM_EMIT_INTERVAL_S"] = "0.5"
    return env


def oee_device_windows(conn: psycopg.Connection, schema: str) -> int:
    query = sql.SQL("SELECT count(DISTINCT (entity_id, window_start)) FROM {} WHERE level = %s")
    row = conn.execute(query.format(sql.Identifier(schema, "oee")), ("device",)).fetchone()
    return row[0] if row else 0


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_samples_become_windows_in_postgres_all_over_sasl(
    sasl_stack: PrivateStack,
    migrator: psycopg.Connection,
    writer: psycopg.Connection,
    pg_schema: str,
    tmp_path: Path,
    protocol: str,
) -> None:
    name = protocol.lower()
    settings = sasl_settings(
        sasl_stack,
        PASSWORD,
        protocol,
        topic_prefix=f"{name}.",
        pg_schema=f"{pg_schema}_{name}",
        telemetry_partitions=2,
        result_partitions=2,
        sink_batch_s=0.2,
    )
    assert "1 broker(s)" in kafka_admin.broker_summary(settings)
    kafka_admin.ensure_topics(settings)
    migrate(migrator, settings.pg_schema, settings)
    log = (tmp_path / "stream.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "stream"], env=env_of(settings), stdout=log, stderr=log
    )
    try:
        with Publisher(settings, tmp_path / "spool.sqlite") as publisher:
            for _, _, value in s.births(DEVICES):
                publisher.publish_birth(decode(DeviceBirth, value))
            for _, _, value in s.samples(DEVICES, PER_DEVICE):
                publisher.publish_sample(decode(Sample, value))
            assert publisher.flush(30) == 0, "records left in the spool: Kafka did not take them"
            assert publisher.counters.delivered == DEVICES * (PER_DEVICE + 1)
            assert publisher.counters.outages == 0
        # Minutes 0…3 of every device are whole: their windows must land (minute 4 is open).
        wanted = DEVICES * 4
        sink = Sink(settings, stats=SinkStats(tuple(ROUTES), out=None))
        deadline = time.monotonic() + 120

        def landed() -> bool:
            assert worker.poll() is None, (tmp_path / "stream.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (
                f"{oee_device_windows(writer, settings.pg_schema)} of {wanted} device windows "
                f"landed in 120 s; stream log: {(tmp_path / 'stream.log').read_text()[-3000:]}"
            )
            return (
                s.count(writer, settings.pg_schema, "telemetry") == DEVICES * PER_DEVICE
                and oee_device_windows(writer, settings.pg_schema) >= wanted
            )

        sink.run(until=landed)
        assert (sink.stats.kafka_errors, sink.stats.dead_lettered) == (0, 0)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        migrator.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.pg_schema))
        )


def test_a_wrong_password_is_refused_in_one_line(sasl_stack: PrivateStack) -> None:
    settings = sasl_settings(sasl_stack, "not-" + PASSWORD, topic_prefix="sasl-wrong.")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "topics", "create"],
        env=env_of(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refused SASL_PLAINTEXT user 'iiot'" in lines[0], lines[0]
    assert "Authentication failed" in lines[0] and "SCRAM-SHA-512" in lines[0], lines[0]
    assert PASSWORD not in done.stderr and "not-" not in done.stderr


def test_a_publisher_with_a_wrong_password_says_so_and_spools(
    sasl_stack: PrivateStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = sasl_settings(sasl_stack, "not-" + PASSWORD, topic_prefix="sasl-wrong.")
    with Publisher(settings, tmp_path / "spool.sqlite", stall_s=2) as publisher:
        publisher.publish_birth(decode(DeviceBirth, s.births(1)[0][2]))
        deadline = time.monotonic() + 10
        while publisher.counters.spooled == 0 and time.monotonic() < deadline:
            publisher.poll(0.1)
        assert publisher.counters.spooled == 1  # kept, for when the password is right
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("Authentication failed" in e for e in errors), errors


def test_an_unknown_ca_is_refused_in_one_line(sasl_stack: PrivateStack) -> None:
    settings = sasl_settings(sasl_stack, PASSWORD, "SASL_SSL", kafka_ssl_ca_file="")
    with pytest.raises(kafka_admin.BrokerUnreachable) as refused:
        kafka_admin.broker_summary(settings)
    line = str(refused.value)
    assert "\n" not in line and "TLS failed" in line and "certificate verify failed" in line


def test_a_plaintext_client_gets_nothing(sasl_stack: PrivateStack) -> None:
    with pytest.raises(kafka_admin.BrokerUnreachable, match="did not answer"):
        kafka_admin.broker_summary(sasl_stack.settings(), timeout_s=3)
