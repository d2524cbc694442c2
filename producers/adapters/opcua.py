"""OPC UA: each device's nodes, by a data-change subscription or read every interval
(docs/integrating.md).

`mode: subscribe` — one subscription for every node of the file, publishing at the
smallest `sample_interval_s`; each device's latest values are kept, and one reading per
device is emitted every `sample_interval_s` from them, once every node of the device has
had a value. `mode: poll` — each device's nodes read in one request every interval.

asyncua's client does not come back by itself: its watchdog (a read of the server state
every second) reports a lost connection, and a failing read is one too; then one warning,
`status.reconnects += 1`, `Backoff`, connect and subscribe again. A node the server does
not know is the mapping's fault: one error naming the device, field and node, and that
node is left out of the device's readings.

Security: the client's certificate and key are read when the source is made (a missing or
wrong file is a `SourceError` naming it). Each connect first asks the server for its
endpoints and picks the one of the file's `security`; none such, or the server refusing
the certificate or the login, is a `SourceError` too (trying again would not change it).
The server's certificate is the one that endpoint list names: taken as it is, not
validated (docs/integrating.md, "Security").
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.crypto import security_policies
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from producers.adapters import mapping as m
from producers.adapters.reconnect import Lost, keep_connected
from producers.adapters.source import Backoff, Emit, SourceError, Status

log = logging.getLogger(__name__)

_MODES = {
    "None": ua.MessageSecurityMode.None_,
    "Basic256Sha256_Sign": ua.MessageSecurityMode.Sign,
    "Basic256Sha256_SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
# The server's answers to a session that trying again will not change: its certificate or
# its login refused.
_CERTIFICATE_REFUSED = (
    StatusCodes.BadCertificateUntrusted,
    StatusCodes.BadCertificateInvalid,
    StatusCodes.BadCertificateUriInvalid,
    StatusCodes.BadCertificateTimeInvalid,
    StatusCodes.BadCertificateUseNotAllowed,
    StatusCodes.BadCertificateRevoked,
    StatusCodes.BadSecurityPolicyRejected,
    StatusCodes.BadSecurityModeRejected,
)
_LOGIN_REFUSED = (
    StatusCodes.BadIdentityTokenRejected,
    StatusCodes.BadIdentityTokenInvalid,
    StatusCodes.BadUserAccessDenied,
)


@dataclass(slots=True)
class _Device:
    device: m.OpcuaDevice
    nodes: dict[str, ua.NodeId] = field(default_factory=dict)  # field → node, readable ones
    latest: dict[str, Any] = field(default_factory=dict)
    due: float = 0.0


def parse(device: m.OpcuaDevice) -> dict[str, ua.NodeId]:
    """The device's node ids; a malformed one is named."""
    nodes: dict[str, ua.NodeId] = {}
    for name, point in device.points().items():
        try:
            nodes[name] = ua.NodeId.from_string(point.node)
        except (ValueError, UaError) as exc:
            raise SourceError(
                f"device {device.device_id}: {name}: {point.node!r} is not a node id ({exc})"
            ) from None
    return nodes


class Source:
    """The devices of one OPC UA mapping file, over one session."""

    def __init__(self, mapping: m.OpcuaMapping, name: str) -> None:
        self.mapping, self.name = mapping, name
        self.connection = mapping.connection
        self.devices = [_Device(device, parse(device)) for device in mapping.devices]
        self._credentials = credentials(self.connection)
        self._lost = asyncio.Event()
        self._warned = False  # of a password sent in clear text
        # asyncua's client warns of what this source reports itself (a session refused, a
        # connection lost) and of every revised session timeout: only its errors are shown
        logging.getLogger("asyncua.client").setLevel(logging.ERROR)
        # its publish loop logs a traceback when the server goes away ("Publish iteration
        # crashed"): the watchdog's lost connection is this source's one warning
        logging.getLogger("asyncua.client.ua_session").setLevel(logging.CRITICAL)

    # -- the connection --

    async def _endpoint(self, client: Client) -> ua.EndpointDescription:
        """The server's endpoint of the file's `security`; none such is a `SourceError`
        naming those it offers."""
        c = self.connection
        try:
            endpoints = await client.connect_and_get_server_endpoints()
        except (TimeoutError, OSError, UaError) as exc:
            raise Lost(f"cannot connect to {c.endpoint}: {_text(exc)}") from None
        policy = (security_policies.SecurityPolicyNone if c.security == "None"
                  else security_policies.SecurityPolicyBasic256Sha256).URI  # fmt: skip
        for endpoint in endpoints:
            if endpoint.SecurityPolicyUri == policy and endpoint.SecurityMode == _MODES[c.security]:
                if c.password is not None and _password_in_clear(endpoint) and not self._warned:
                    self._warned = True
                    log.warning("%s: %s takes the password in clear text (security %s)",
                                self.name, c.endpoint, c.security)  # fmt: skip
                return endpoint
        offered = ", ".join(sorted({_security(e) for e in endpoints})) or "nothing"
        raise SourceError(f"{c.endpoint}: the server offers no security {c.security} "
                          f"endpoint (it offers {offered})")  # fmt: skip

    async def _connect(self) -> Client:
        c = self.connection
        client = Client(c.endpoint, timeout=c.timeout_s)
        client.name = client.description = f"iiot adapter {self.name}"
        client.application_uri = "urn:iiot-pipeline:adapter"
        if c.username is not None:
            client.set_user(c.username)
        if c.password is not None:
            client.set_password(c.password)
        endpoint = await self._endpoint(client)
        if self._credentials is not None:
            if not endpoint.ServerCertificate:
                raise SourceError(f"{c.endpoint}: the server's {c.security} endpoint has no "
                                  "certificate")  # fmt: skip
            certificate, private_key = self._credentials
            await client.set_security(
                security_policies.SecurityPolicyBasic256Sha256,
                certificate=certificate,
                private_key=private_key,
                server_certificate=_first_certificate(endpoint.ServerCertificate),
                mode=_MODES[c.security],
            )
        self._lost = lost = asyncio.Event()

        async def on_lost(_: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await client.connect()
        except (TimeoutError, OSError, UaError) as exc:
            await _close(client)
            refused = self._refused(exc)
            if refused is not None:
                raise SourceError(refused) from None
            raise Lost(f"cannot connect to {c.endpoint}: {_text(exc)}") from None
        return client

    def _refused(self, exc: BaseException) -> str | None:
        """What the server's refusal of the session means, if it refused it for good."""
        if not isinstance(exc, UaStatusCodeError):
            return None
        c, code = self.connection, ua.StatusCode(exc.code)
        if code.value in _CERTIFICATE_REFUSED:
            return (f"{c.endpoint}: the server refused the adapter's certificate "
                    f"{c.certificate} ({code.name}): make the server trust it")  # fmt: skip
        if code.value in _LOGIN_REFUSED:
            who = "anonymously" if c.username is None else f"as {c.username!r}"
            return f"{c.endpoint}: the server refused the login {who} ({code.name})"
        return None

    def _unknown(self, device: _Device, name: str, status: ua.StatusCode) -> str:
        point = device.device.points()[name]
        return (
            f"device {device.device.device_id}: {name} (node {point.node}) at "
            f"{self.connection.endpoint}: {status.name}"
        )

    async def _read(self, client: Client, device: _Device) -> tuple[dict[str, Any], list[str]]:
        """One read of the device's nodes: its values, and the nodes refused (named, then
        no longer read)."""
        names = list(device.nodes)
        try:
            results = await client.read_attributes(
                [client.get_node(device.nodes[n]) for n in names]
            )
        except (TimeoutError, OSError, ConnectionError, UaError) as exc:
            raise Lost(_text(exc)) from None
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, result in zip(names, results, strict=True):
            status = result.StatusCode or ua.StatusCode()
            if status.is_good() and result.Value is not None:
                values[name] = result.Value.Value
            elif _unknown_node(status):
                problems.append(self._unknown(device, name, status))
                del device.nodes[name]
            # any other bad or uncertain status: no value this time
        return values, problems

    # -- run --

    async def run(self, emit: Emit, status: Status) -> None:
        async def use(client: Client, backoff: Backoff) -> None:
            if self.connection.mode == "subscribe":
                await self._subscribe(client)
            await self._loop(client, emit, backoff)

        await keep_connected(self.name, self._connect, use, _close, status)

    async def _subscribe(self, client: Client) -> None:
        by_node: dict[ua.NodeId, tuple[_Device, str]] = {}
        for device in self.devices:
            device.latest.clear()
            for name, nodeid in device.nodes.items():
                by_node[nodeid] = (device, name)

        class Handler:
            def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
                found = by_node.get(node.nodeid)
                if found is not None:
                    found[0].latest[found[1]] = val

            def status_change_notification(self, status: Any) -> None:
                pass  # a subscription closed or timed out: the watchdog reports the loss

        period_ms = 1000 * min(d.device.sample_interval_s for d in self.devices)
        try:
            subscription = await client.create_subscription(period_ms, Handler())
            order = list(by_node)
            results = await subscription.subscribe_data_change([client.get_node(n) for n in order])
        except (TimeoutError, OSError, ConnectionError, UaError) as exc:
            raise Lost(_text(exc)) from None
        for nodeid, result in zip(order, results, strict=True):
            if isinstance(result, ua.StatusCode):
                device, name = by_node[nodeid]
                log.error("%s: %s; that node is no longer read", self.name,
                          self._unknown(device, name, result))  # fmt: skip
                device.nodes.pop(name, None)

    async def _loop(self, client: Client, emit: Emit, backoff: Backoff) -> None:
        """Each device's reading when it is due, until the connection is lost."""
        now = time.monotonic()
        for device in self.devices:
            device.due = now
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while True:
                device = min(self.devices, key=lambda d: d.due)
                wait = device.due - time.monotonic()
                if wait > 0:
                    done, _ = await asyncio.wait([lost], timeout=wait)
                    if done:
                        raise Lost("the server stopped answering")
                elif lost.done():
                    raise Lost("the server stopped answering")
                interval = device.device.sample_interval_s
                device.due = max(device.due + interval, time.monotonic())
                if self.connection.mode == "poll":
                    values, problems = await self._read(client, device)
                    for problem in problems:
                        log.error("%s: %s; that node is no longer read", self.name, problem)
                else:
                    values = dict(device.latest)
                    if not device.nodes or any(name not in values for name in device.nodes):
                        continue  # not every node has had its first value yet
                backoff.reset()
                if values:
                    emit(device.device.device_id, values, None)
        finally:
            lost.cancel()

    async def probe(self) -> dict[str, dict[str, Any]]:
        try:
            client = await self._connect()
        except Lost as lost:
            raise SourceError(str(lost)) from None
        found: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        try:
            for device in self.mapping.devices:
                values, refused = await self._read(client, _Device(device, parse(device)))
                found[device.device_id] = values
                problems += refused
        except Lost as lost:
            raise SourceError(f"{self.connection.endpoint}: connection lost: {lost}") from None
        finally:
            await _close(client)
        if problems:
            raise SourceError("; ".join(problems))
        return found


def credentials(connection: m.OpcuaConnection) -> tuple[bytes, bytes] | None:
    """The client's certificate and private key (DER) for a secured connection, read from
    the files named (PEM or DER); a missing or wrong file is a `SourceError` naming it."""
    c = connection
    if c.security == "None":
        return None
    if c.certificate is None or c.private_key is None:
        raise SourceError(f"{c.endpoint}: security {c.security} needs certificate and "
                          "private_key")  # fmt: skip
    data = _file("certificate", c.certificate)
    try:
        certificate = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                       else x509.load_der_x509_certificate(data))  # fmt: skip
    except ValueError:
        raise SourceError(f"certificate {c.certificate}: not an X.509 certificate (PEM or "
                          "DER)") from None  # fmt: skip
    data = _file("private_key", c.private_key)
    try:
        key = (serialization.load_pem_private_key(data, None) if b"-----BEGIN" in data
               else serialization.load_der_private_key(data, None))  # fmt: skip
    except TypeError:
        raise SourceError(f"private_key {c.private_key}: encrypted; give it unencrypted") from None
    except ValueError:
        raise SourceError(f"private_key {c.private_key}: not a private key (PEM or DER)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SourceError(f"private_key {c.private_key}: not an RSA key (Basic256Sha256 "
                          "needs RSA)")  # fmt: skip
    if key.public_key() != certificate.public_key():
        raise SourceError(f"private_key {c.private_key}: not the key of certificate "
                          f"{c.certificate}")  # fmt: skip
    return (
        certificate.public_bytes(serialization.Encoding.DER),
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _file(key: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{key} {path}: {exc.strerror or exc}") from None


def _first_certificate(der: bytes) -> bytes:
    """The leading certificate of a DER chain (a server may send its chain): its SEQUENCE's
    two-byte length says where it ends."""
    return der[: int.from_bytes(der[2:4], "big") + 4] if len(der) > 4 else der


def _password_in_clear(endpoint: ua.EndpointDescription) -> bool:
    """The endpoint's username token is not encrypted, nor its channel (asyncua's own
    warning of it is not shown)."""
    if endpoint.SecurityMode == ua.MessageSecurityMode.SignAndEncrypt:
        return False
    tokens = [
        t for t in endpoint.UserIdentityTokens or [] if t.TokenType == ua.UserTokenType.UserName
    ]
    none = security_policies.SecurityPolicyNone.URI
    return bool(tokens) and tokens[0].SecurityPolicyUri in (None, "", none)


def _security(endpoint: ua.EndpointDescription) -> str:
    """An endpoint's security as the mapping's `security` spells it."""
    if endpoint.SecurityMode == ua.MessageSecurityMode.None_:
        return "None"
    policy = (endpoint.SecurityPolicyUri or "").rsplit("#", 1)[-1]
    return f"{policy}_{endpoint.SecurityMode.name}"


def _unknown_node(status: ua.StatusCode) -> bool:
    return status.value in (
        StatusCodes.BadNodeIdUnknown,
        StatusCodes.BadNodeIdInvalid,
        StatusCodes.BadAttributeIdInvalid,
        StatusCodes.BadNotReadable,
        StatusCodes.BadUserAccessDenied,
    )


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _close(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2)
    except Exception:  # a dead connection's teardown fails as it may: it is gone anyway
        log.debug("disconnect failed", exc_info=True)
