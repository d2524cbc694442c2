"""The simulated devices on an OPC UA server (`iiot simulate --serve opcua`).

The server (endpoint `opc.tcp://HOST:PORT/iiot/`, security None, anonymous) has, under
Objects, a folder per device named by its id, and in it a variable per point, in the
namespace `urn:iiot-pipeline:simulator` (index 2, the first a server registers), with
string node ids `ns=2;s=<device_id>.<field>` (docs/integrating.md, "OPC UA"):

| variable | node id | type |
|---|---|---|
| state (vendor code, `feed.CODES`) | `ns=2;s=<device>.state` | UInt16 |
| count_total, count_good | `ns=2;s=<device>.count_total`, `….count_good` | UInt32 (wraps at 2^32) |
| ideal_cycle_s | `ns=2;s=<device>.ideal_cycle_s` | Double |
| each metric | `ns=2;s=<device>.metrics.<name>` | Double |

Doubles carry the simulator's values exactly. Each write has the sample's time as its
source timestamp.

`OpcuaServed(..., security=Security(...))` serves the same instead with only the
Basic256Sha256 endpoints named, the server's own certificate and key, trusting only the
client certificates given, and (if `users`) a username and password login only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server import Server
from asyncua.server.internal_server import InternalServer
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from iiot.messages import DeviceBirth
from simulators.serve import mapped
from simulators.serve.feed import Served, feed
from simulators.serve.modbus import process_metric
from simulators.serve.serving import serve_until_cancelled
from simulators.simulation import Simulation

NAMESPACE = "urn:iiot-pipeline:simulator"
PATH = "/iiot/"
_TYPES = {"state": ua.VariantType.UInt16, "count_total": ua.VariantType.UInt32}
_TYPES["count_good"] = ua.VariantType.UInt32


def fields(kind: str) -> list[str]:
    """The points a device of `kind` serves, by the field names of a mapping's points."""
    metrics = ("power_kw", "temperature_c", "vibration_mm_s", process_metric(kind))
    return ["state", "count_total", "count_good", "ideal_cycle_s"] + [
        f"metrics.{name}" for name in metrics
    ]


def node_id(device_id: str, field: str, namespace: int = 2) -> str:
    return f"ns={namespace};s={device_id}.{field}"


def endpoint(host: str, port: int) -> str:
    return f"opc.tcp://{host}:{port}{PATH}"


def _variant(field: str, value: Any) -> ua.Variant:
    kind = _TYPES.get(field, ua.VariantType.Double)
    if kind is ua.VariantType.Double:
        return ua.Variant(float(value), kind)
    return ua.Variant(int(value) % (1 << 32), kind)


_POLICIES = {
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


@dataclass(frozen=True)
class Security:
    """A secured server: its certificate (DER) and private key (PEM), the endpoints it
    offers (the mapping's `security` names), the client certificates (DER) it trusts, and
    the users it lets in (none: anonymous only)."""

    certificate: bytes
    private_key: bytes
    trusted: tuple[bytes, ...]
    modes: tuple[str, ...] = ("Basic256Sha256_SignAndEncrypt",)
    users: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # the server's, in its certificate's subjectAltName; not NAMESPACE, which would then be
    # index 1 (the application's namespace) instead of 2
    application_uri: str = "urn:iiot-pipeline:simulator:server"


class _Users(UserManager):
    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User)
        return None


async def _secure(server: Server, security: Security) -> None:
    await server.set_application_uri(security.application_uri)
    await server.load_certificate(security.certificate, "der")
    await server.load_private_key(security.private_key, format="pem")
    server.set_security_policy([_POLICIES[mode] for mode in security.modes])
    if security.users:
        server.set_identity_tokens([ua.UserNameIdentityToken])

    async def trusted(certificate: x509.Certificate, _: ua.ApplicationDescription) -> None:
        if certificate.public_bytes(Encoding.DER) not in security.trusted:
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    server.set_certificate_validator(trusted)


class OpcuaServed:
    """The network side, which a test may stop and start again while the feed goes on (a
    server restarting: a new server with the values as they are now, the counters go on)."""

    def __init__(
        self, births: list[DeviceBirth], host: str, port: int, security: Security | None = None
    ) -> None:
        self.births, self.host, self.port = births, host, port
        self.security = security
        self.values: dict[str, dict[str, Any]] = {
            b.device_id: dict.fromkeys(fields(b.kind), 0) for b in births
        }
        self.server: Server | None = None
        self._nodes: dict[tuple[str, str], ua.NodeId] = {}
        self.seen: set[str] = set()

    @property
    def listening(self) -> bool:
        return self.server is not None

    def complete(self) -> bool:
        return len(self.seen) == len(self.values)

    async def start(self) -> None:
        users = self.security.users if self.security is not None else {}
        server = Server(user_manager=_Users(users) if users else None)
        await server.init()
        server.set_endpoint(endpoint(self.host, self.port))
        server.set_server_name("iiot-pipeline simulator")
        if self.security is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            await _secure(server, self.security)
        namespace = await server.register_namespace(NAMESPACE)
        for birth in self.births:
            folder = await server.nodes.objects.add_folder(
                ua.NodeId(birth.device_id, namespace), birth.device_id
            )
            for field, value in self.values[birth.device_id].items():
                nodeid = ua.NodeId(f"{birth.device_id}.{field}", namespace)
                variant = _variant(field, value)
                await folder.add_variable(nodeid, field, variant.Value, variant.VariantType)
                self._nodes[(birth.device_id, field)] = nodeid
        await server.start()
        self.server = server

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    async def write(self, served: Served) -> None:
        current = self.values[served.device_id]
        self.seen.add(served.device_id)
        for field, value in served.values.items():
            if field in current:
                current[field] = value
        if self.server is None:
            return
        for field in current:
            if field not in served.values:
                continue
            value = ua.DataValue(_variant(field, served.values[field]), SourceTimestamp=served.ts)
            await self.server.write_attribute_value(self._nodes[(served.device_id, field)], value)


async def serve(simulation: Simulation, speed: float | None, host: str, port: int) -> None:
    """Serve the simulation's devices until cancelled (the last values stay when it ends)."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # it warns of every unsecured start
    server = OpcuaServed(simulation.births(), host, port)
    await serve_until_cancelled(server, feed(simulation.run(), speed))


def mapping(births: list[DeviceBirth], host: str, port: int) -> dict[str, Any]:
    """The mapping file (as YAML-able data) an adapter reads the served devices by."""
    devices = [
        mapped.device(
            birth,
            {field: {"node": node_id(birth.device_id, field)} for field in fields(birth.kind)},
        )
        for birth in births
    ]
    return {
        "protocol": "opcua",
        "connection": {"endpoint": endpoint(host, port), "mode": "subscribe"},
        "enterprises": mapped.enterprises(births),
        "devices": devices,
    }
