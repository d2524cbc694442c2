"""The OPC UA adapter against the simulator served on a real asyncua server: the values read
are the served ones, an unknown node is named, and in both modes (subscribe, poll) the
samples on Kafka are the served ones, through a server restart, with seqs 1..n. Secured:
a server offering only Basic256Sha256 (Sign, SignAndEncrypt) with certificates made here,
trusting only the adapter's, with a login; each mistake is one line."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from iiot.settings import Settings
from producers.adapters import mapping as m
from producers.adapters.opcua import Source
from producers.adapters.source import SourceError, Status
from simulators.serve import opcua as served
from tests.integration.adapter_support import (
    Feeding,
    free_port,
    load,
    simulation,
    through_a_restart,
)
from tests.invoke import iiot

pytestmark = pytest.mark.integration

SPEED = 10


@pytest.fixture(autouse=True)
def _quiet_asyncua() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def test_the_source_reads_the_served_values(tmp_path: Path) -> None:
    sim = simulation(3, duration_s=120)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    document["connection"]["mode"] = "poll"
    loaded = load(document, tmp_path / "opcua.yaml")
    device = document["devices"][1]
    device["metrics"]["oil_temp_c"] = {"node": f"ns=2;s={device['device_id']}.oil_temp_c"}
    unknown = load(document, tmp_path / "unknown.yaml")
    assert isinstance(loaded.mapping, m.OpcuaMapping)
    assert isinstance(unknown.mapping, m.OpcuaMapping)

    async def main() -> tuple[dict[str, dict[str, Any]], Feeding]:
        server = served.OpcuaServed(sim.births(), "127.0.0.1", port)
        feeding = Feeding(server)
        await feeding.start(sim, None)
        assert feeding.task is not None
        await feeding.task  # every sample written: the nodes hold the last ones
        try:
            with pytest.raises(SourceError) as raised:
                await Source(unknown.mapping, "unknown.yaml").probe()
            assert str(raised.value) == (
                f"device {device['device_id']}: metrics.oil_temp_c (node ns=2;s="
                f"{device['device_id']}.oil_temp_c) at opc.tcp://127.0.0.1:{port}/iiot/: "
                "BadNodeIdUnknown"
            )
            return await Source(loaded.mapping, "opcua.yaml").probe(), feeding
        finally:
            await server.stop()

    found, feeding = asyncio.run(main())
    last = {s.device_id: s.values for s in feeding.served}
    assert found == last  # Doubles and integers: exactly


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
def test_served_devices_to_kafka_through_a_server_restart(
    mode: str, tmp_path: Path, stream_settings: Settings
) -> None:
    """Three devices served at 10× and read as often; the server is stopped for 2 s and a
    new one started. On Kafka: per device seqs 1..n, each sample one that was served, the
    last the last."""
    sim = simulation(3)
    port = free_port()
    document = served.mapping(sim.births(), "127.0.0.1", port)
    document["connection"]["mode"] = mode
    loaded = load(document, tmp_path / "opcua.yaml", 1 / SPEED)
    server = served.OpcuaServed(sim.births(), "127.0.0.1", port)
    _, per_device = through_a_restart(sim, server, loaded, stream_settings, tmp_path, SPEED)
    assert all(len(mine) >= 10 for mine in per_device.values()), {
        d: len(s) for d, s in per_device.items()
    }


def test_check_names_the_file_and_the_problem(tmp_path: Path) -> None:
    document = served.mapping(simulation(1).births(), "127.0.0.1", 4840)
    document["connection"]["mode"] = "push"
    path = tmp_path / "push.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    result = iiot("adapter", "check", str(path))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "push.yaml" in lines[0] and "mode" in lines[0], lines


# -- security --------------------------------------------------------------------------------

USER, PASSWORD = "operator", "s3cret"


def self_signed(uri: str, use: x509.ObjectIdentifier) -> tuple[x509.Certificate, bytes]:
    """An application certificate (its SAN: the application URI and this host) and its
    private key (PEM)."""
    key = cert_gen.generate_private_key()
    names = [x509.UniformResourceIdentifier(uri), x509.DNSName(socket.gethostname())]
    certificate = cert_gen.generate_self_signed_app_certificate(key, uri, {}, names, [use], 1)
    return certificate, cert_gen.dump_private_key_as_pem(key)


@dataclass
class Secured:
    port: int
    document: dict[str, Any]  # the mapping: SignAndEncrypt, the adapter's files, the login
    last: dict[str, dict[str, Any]]  # each device's last served values
    directory: Path

    def mapping(self, name: str, **connection: Any) -> Path:
        """The mapping file with these connection keys changed (None: left out)."""
        document = copy.deepcopy(self.document)
        document["connection"].update(connection)
        document["connection"] = {k: v for k, v in document["connection"].items() if v is not None}
        path = self.directory / name
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        return path

    def source(self, name: str, interval_factor: float = 1.0, **connection: Any) -> Source:
        loaded = load(yaml.safe_load(self.mapping(name, **connection).read_text()),
                      self.directory / name, interval_factor)  # fmt: skip
        assert isinstance(loaded.mapping, m.OpcuaMapping)
        return Source(loaded.mapping, name)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Three devices' samples served (whole, then kept) on a server in a thread of its own
    (the CLI runs its own event loop), offering Basic256Sha256 Sign and SignAndEncrypt only,
    trusting only the adapter's certificate, letting in only USER with PASSWORD."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    directory = tmp_path_factory.mktemp("opcua-security")
    adapter_cert, adapter_key = self_signed("urn:iiot-pipeline:adapter",
                                            ExtendedKeyUsageOID.CLIENT_AUTH)  # fmt: skip
    server_cert, server_key = self_signed("urn:iiot-pipeline:simulator:server",
                                          ExtendedKeyUsageOID.SERVER_AUTH)  # fmt: skip
    # PEM under names that do not say so: the adapter reads either by content
    (directory / "adapter.crt").write_bytes(adapter_cert.public_bytes(Encoding.PEM))
    (directory / "adapter.key").write_bytes(adapter_key)
    security = served.Security(
        certificate=server_cert.public_bytes(Encoding.DER),
        private_key=server_key,
        trusted=(adapter_cert.public_bytes(Encoding.DER),),
        modes=("Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"),
        users={USER: PASSWORD},
    )
    sim = simulation(3, duration_s=120)
    port = free_port()
    server = served.OpcuaServed(sim.births(), "127.0.0.1", port, security)
    feeding = Feeding(server)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def serve() -> None:
        await feeding.start(sim, None)
        assert feeding.task is not None
        await feeding.task  # every sample written: the nodes hold the last ones

    try:
        asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=30)
        document = served.mapping(sim.births(), "127.0.0.1", port)
        document["connection"].update(
            mode="poll", security="Basic256Sha256_SignAndEncrypt",
            certificate=str(directory / "adapter.crt"), private_key=str(directory / "adapter.key"),
            username=USER, password=PASSWORD,
        )  # fmt: skip
        yield Secured(port, document, {s.device_id: s.values for s in feeding.served}, directory)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.mark.parametrize("security", ["Basic256Sha256_SignAndEncrypt", "Basic256Sha256_Sign"])
def test_a_secured_server_is_read(security: str, secured: Secured) -> None:
    found = asyncio.run(secured.source("secured.yaml", security=security).probe())
    assert found == secured.last  # every device, Doubles and integers: exactly


def test_a_secured_server_is_read_by_subscription(secured: Secured) -> None:
    """`iiot adapter run`'s path: connected, subscribed, each device's reading emitted."""
    source = secured.source("subscribed.yaml", 0.1, mode="subscribe")
    readings: dict[str, dict[str, Any]] = {}

    def emit(device_id: str, values: Mapping[str, Any], _: object) -> None:
        readings.setdefault(device_id, dict(values))

    async def main() -> None:
        task = asyncio.create_task(source.run(emit, Status()))
        try:
            async with asyncio.timeout(15):
                while len(readings) < len(secured.last):
                    if task.done():
                        task.result()  # raises what stopped it
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert readings == secured.last


def test_each_security_mistake_is_one_line(secured: Secured) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{secured.port}/iiot/"
    other_cert, other_key = self_signed("urn:iiot-pipeline:adapter",
                                        ExtendedKeyUsageOID.CLIENT_AUTH)  # fmt: skip
    (secured.directory / "other.pem").write_bytes(other_cert.public_bytes(Encoding.PEM))
    (secured.directory / "other.key").write_bytes(other_key)
    missing = secured.directory / "missing.pem"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"security": "None", "certificate": None, "private_key": None},
         f"{endpoint}: the server offers no security None endpoint (it offers "
         "Basic256Sha256_Sign, Basic256Sha256_SignAndEncrypt)"),
        ({"certificate": str(secured.directory / "other.pem"),
          "private_key": str(secured.directory / "other.key")},
         f"{endpoint}: the server refused the adapter's certificate "
         f"{secured.directory / 'other.pem'} (BadCertificateUntrusted): make the server trust it"),
        ({"password": "wrong"},
         f"{endpoint}: the server refused the login as 'operator' (BadUserAccessDenied)"),
        ({"username": None, "password": None},
         f"{endpoint}: the server refused the login anonymously (BadIdentityTokenRejected)"),
        ({"private_key": str(secured.directory / "other.key")},
         f"private_key {secured.directory / 'other.key'}: not the key of certificate "
         f"{secured.directory / 'adapter.crt'}"),
        ({"private_key": str(secured.directory / "adapter.crt")},
         f"private_key {secured.directory / 'adapter.crt'}: not a private key (PEM or DER)"),
    ]  # fmt: skip
    for changes, line in cases:
        with pytest.raises(SourceError) as raised:
            asyncio.run(secured.source("mistake.yaml", **changes).probe())
        assert str(raised.value) == line, changes
    # `iiot adapter run` gives up on the first one, not trying again for ever
    source = secured.source("none.yaml", security="None", certificate=None, private_key=None)
    with pytest.raises(SourceError, match="offers no security None endpoint"):
        asyncio.run(asyncio.wait_for(source.run(lambda *_: None, Status()), timeout=10))
    # the CLI, as run (asyncua's own warnings would show too): one line each, naming the file
    for changes, wanted in [
        (cases[0][0], cases[0][1]),
        (cases[1][0], cases[1][1]),
        ({"private_key": str(missing)}, f"private_key {missing}: No such file or directory"),
    ]:
        path = secured.mapping("cli.yaml", **changes)
        result = subprocess.run(
            [sys.executable, "-m", "cli", "adapter", "check", "--probe", str(path)],
            capture_output=True, text=True, timeout=30, env=os.environ | {"COLUMNS": "400"},
        )  # fmt: skip
        assert result.returncode == 1, result
        assert result.stdout.splitlines() == [], result
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[1:] == [f"error: cli.yaml: {wanted}"], result  # after the file's "ok" line
