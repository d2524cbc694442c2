"""Settings read from `IIOT_*` environment variables (and a `.env` file if present).

Every part reads the same `Settings`, so a value set once (say `IIOT_TOPIC_PREFIX`) holds for
the simulator, the stream workers and the sinks alike.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iiot.types import MAX_BATCH_BYTES


class DigitizationWeights(BaseModel):
    """Weights of the digitization index components; they must add up to 1.

    The index is a project-defined proxy (see docs/kpi.md), not the official
    两化融合 methodology, so the weights are settings rather than constants.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connectivity: float = Field(0.25, ge=0, le=1)
    completeness: float = Field(0.20, ge=0, le=1)
    key_process_nc: float = Field(0.25, ge=0, le=1)
    oee_coverage: float = Field(0.15, ge=0, le=1)
    cloud: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> DigitizationWeights:
        total = sum(self.model_dump().values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"digitization weights must add up to 1, they add up to {total:g}")
        return self


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class Settings(BaseSettings):
    """Runtime settings. Environment variables: `IIOT_<NAME>`, nested with `__`."""

    model_config = SettingsConfigDict(
        env_prefix="IIOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    # Kafka
    topic_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]{0,100}$",
        description="Prepended to every topic name, so tests and replays run side by side.",
    )
    kafka_bootstrap: str = "127.0.0.1:9092"
    telemetry_partitions: int = Field(6, ge=1, le=1024)
    result_partitions: int = Field(6, ge=1, le=1024)
    kafka_telemetry_retention_days: int = Field(
        7, ge=0, description="iiot.telemetry keeps records this long, by timestamp; 0: forever."
    )
    # Kafka security (iiot/kafka_security.py hands these to every client). The local stack
    # is PLAINTEXT on loopback; a real cluster wants SASL_SSL or SSL (mutual TLS).
    kafka_security_protocol: KafkaProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str = Field("", description="SASL user (SASL_PLAINTEXT, SASL_SSL).")
    kafka_password: SecretStr = Field(SecretStr(""), description="SASL password.")
    kafka_ssl_ca_file: str = Field(
        "", description="PEM CA that signed the brokers' certificates; empty = system CAs."
    )
    kafka_ssl_cert_file: str = Field("", description="PEM client certificate (mutual TLS).")
    kafka_ssl_key_file: str = Field("", description="PEM key of the client certificate.")

    # PostgreSQL, one role per job (docs/operations.md, "Roles"): the migrator owns the schema
    # and runs `db migrate`/`db maintain`; the writer (the sink) writes rows only; the reader
    # is Grafana's read-only role.
    pg_migrator_dsn: str = "postgresql://iiot_migrator:iiot_migrator@127.0.0.1:5432/iiot"
    pg_writer_dsn: str = "postgresql://iiot_writer:iiot_writer@127.0.0.1:5432/iiot"
    pg_reader_dsn: str = "postgresql://iiot_reader:iiot_reader@127.0.0.1:5432/iiot"
    pg_schema: str = Field("iiot", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    grafana_pg_sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = Field(
        "disable",
        description="sslmode of Grafana's datasource: disable on loopback, verify-full beyond.",
    )

    # MQTT broker (for the planned device adapters; only `iiot stack status` reads it yet)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(1883, ge=1, le=65535)

    # Windows and lateness, all in event time
    oee_window_s: int = Field(60, ge=1, le=86_400)
    digitization_window_s: int = Field(3_600, ge=60, le=86_400)
    grace_s: int = Field(120, ge=0, le=86_400)
    future_tolerance_s: int = Field(
        300, ge=0, description="A sample further ahead of the newest event time is dead-lettered."
    )
    max_gap_intervals: float = Field(
        3.0, gt=0, description="A state holds at most this many sample intervals (max_gap)."
    )

    digitization_weights: DigitizationWeights = DigitizationWeights()

    # Alarms (streams/alarms.py)
    alarm_down_s: float = Field(300.0, gt=0, description="Down longer than this raises.")
    alarm_oee_low: float = Field(0.40, ge=0, le=1, description="OEE below this …")
    alarm_oee_low_windows: int = Field(3, ge=1, description="… for this many windows raises.")
    alarm_performance_high: float = Field(1.05, gt=0, description="P above this raises.")

    # Stream workers
    stream_emit_interval_s: float = Field(
        1.0, gt=0, le=60, description="Changed windows are emitted this often (coalesced)."
    )
    stream_session_timeout_s: float = Field(
        10.0, ge=3, le=300, description="A dead worker's partitions move on after this."
    )

    # Local services (deploy/local): where their state lives
    stack_home: str = Field("", description="State dir of `iiot stack`; default <repo>/.stack")

    # Sinks (Kafka → database) and the database's retention
    sink_group: str = Field("iiot-sink", description="Consumer group of `iiot sink`.")
    sink_batch_rows: int = Field(50_000, ge=1, description="Rows held before a checkpoint.")
    sink_batch_s: float = Field(1.0, gt=0, description="Seconds between checkpoints at most.")
    telemetry_retention_days: int = Field(30, ge=1, description="Raw telemetry is kept so long.")
    kpi_retention_days: int = Field(730, ge=1, description="OEE and digitization windows.")
    compress_after_days: int = Field(7, ge=1, description="TimescaleDB compresses chunks then.")

    # Grafana (dashboards/): what `iiot dashboards build` provisions and `push` talks to
    grafana_url: str = Field("http://127.0.0.1:3000", description="Grafana's base URL.")
    grafana_token: str = Field(
        "", description="Service-account token for `push`; empty = basic auth in the URL."
    )
    grafana_timescaledb: bool = Field(
        False, description="The datasource's TimescaleDB flag ($__timeGroup → time_bucket)."
    )
    oee_target: float = Field(
        0.85,
        gt=0,
        le=1,
        description="OEE drawn green from here (world class 0.85); amber from 0.60 (typical).",
    )

    # Producer (producers/): compression, batching and the disk spool for broker outages
    producer_compression: Literal["lz4", "zstd", "none"] = "lz4"
    producer_linger_ms: int = Field(20, ge=0, le=1_000, description="Wait to fill batches.")
    # Batch records (producers/packer.py): a device's waiting samples in one record. 200 ms:
    # a 1 Hz device never has two samples waiting, so its records stay one-sample records.
    producer_batch_ms: int = Field(
        200,
        ge=0,
        le=1_000,
        description="Longest a sample waits for others of its device; 0 = no batch records.",
    )
    producer_batch_bytes: int = Field(
        128 * 1024,
        ge=4_096,
        le=MAX_BATCH_BYTES,
        description="Largest batch record (bytes); a sample that would pass it starts the next.",
    )
    producer_batch_span_s: int = Field(
        60,
        ge=1,
        le=3_600,
        description="Most event time one batch record spans: devices stay this close in time.",
    )
    spool_path: str = Field(
        "", description="SQLite spool of `iiot simulate`; default <cwd>/.spool/producer.sqlite"
    )
    spool_max_bytes: int = Field(
        1_000_000_000,
        ge=65_536,
        description="Records the spool may hold (bytes); beyond, new records are refused.",
    )

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_username and self.kafka_password.get_secret_value()
        ):
            raise ValueError(
                f"IIOT_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "IIOT_KAFKA_USERNAME and IIOT_KAFKA_PASSWORD"
            )
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            raise ValueError("IIOT_KAFKA_SSL_CERT_FILE and IIOT_KAFKA_SSL_KEY_FILE go together")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
