"""IIOT_KAFKA_* security settings → librdkafka's config and Faust's broker_credentials."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from iiot.kafka_security import faust_credentials, kafka_config
from iiot.settings import Settings

SASL = {"kafka_username": "iiot", "kafka_password": "pw"}


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = Settings(_env_file=None)
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert kafka_config(settings) == {"bootstrap.servers": settings.kafka_bootstrap}
    assert faust_credentials(settings) is None


def test_sasl_scram_reaches_both_kinds_of_client() -> None:
    settings = Settings(kafka_security_protocol="SASL_PLAINTEXT", **SASL)
    config = kafka_config(settings)
    assert config["security.protocol"] == "sasl_plaintext"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512",
        "iiot",
        "pw",
    )
    assert "ssl.ca.location" not in config
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
    )
    assert (credentials.username, credentials.password) == ("iiot", "pw")


def test_sasl_ssl_verifies_the_broker_against_the_ca_file() -> None:
    ca = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_ssl_ca_file=ca,
        **SASL,
    )
    config = kafka_config(settings)
    assert (config["security.protocol"], config["ssl.ca.location"]) == ("sasl_ssl", ca)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context.verify_mode is ssl.CERT_REQUIRED
    assert credentials.ssl_context.check_hostname


def test_mutual_tls_hands_over_the_client_certificate(tmp_path: Path) -> None:
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=str(tmp_path / "client.pem"),
        kafka_ssl_key_file=str(tmp_path / "client.key"),
    )
    config = kafka_config(settings)
    assert config["ssl.certificate.location"] == str(tmp_path / "client.pem")
    assert config["ssl.key.location"] == str(tmp_path / "client.key")
    assert "sasl.username" not in config


def test_the_password_never_shows_in_the_settings() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", **SASL)
    assert "pw" not in repr(settings) and "pw" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs IIOT_KAFKA_USERNAME"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_username": "iiot"}, "PASSWORD"),
        ({"kafka_ssl_cert_file": "c.pem"}, "go together"),
        ({"kafka_security_protocol": "TLS"}, "PLAINTEXT"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-256"),
    ],
)
def test_incomplete_security_is_refused_at_start(values: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(**values)
