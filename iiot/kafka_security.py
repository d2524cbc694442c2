"""Kafka security settings (`IIOT_KAFKA_SECURITY_PROTOCOL` and friends) as each client wants them.

Two kinds of Kafka client run here: librdkafka (confluent-kafka: producers, sinks, admin,
bench) and aiokafka under Faust (the stream worker). Both get their security from these two
functions, so a setting reaches every client or none.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from iiot.settings import Settings

if TYPE_CHECKING:  # faust is imported only where a stream worker asks for it
    from faust.types.auth import CredentialsT


def kafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka's `bootstrap.servers` and security settings; nothing extra for PLAINTEXT."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap}
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return config
    config["security.protocol"] = protocol.lower()
    if protocol.startswith("SASL_"):
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_username
        config["sasl.password"] = settings.kafka_password.get_secret_value()
    if protocol.endswith("SSL"):
        if settings.kafka_ssl_ca_file:
            config["ssl.ca.location"] = settings.kafka_ssl_ca_file
        if settings.kafka_ssl_cert_file:
            config["ssl.certificate.location"] = settings.kafka_ssl_cert_file
            config["ssl.key.location"] = settings.kafka_ssl_key_file
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the broker (hostname too) against the CA file, or the system's CAs."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_file or None)
    if settings.kafka_ssl_cert_file:
        context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's `broker_credentials`; None for PLAINTEXT."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_username,
        password=settings.kafka_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
    )
