"""Settings shared by every service, read from the environment with a per-service prefix.

`QAF_<SERVICE>_DATABASE_URL` wins over the platform-wide `DATABASE_URL`; Kafka settings are read from
`KAFKA_*` (e.g. `KAFKA_BOOTSTRAP_SERVERS`), or per service as `QAF_<SERVICE>_KAFKA__BOOTSTRAP_SERVERS`.
"""

import os
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:5433/qaf"


class KafkaSettings(BaseSettings):
    """How to reach Kafka. Security settings are optional: unset, the platform speaks PLAINTEXT."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default=DEFAULT_KAFKA, description="Kafka brokers, comma-separated host:port.")
    topic_prefix: str = Field(
        default="",
        pattern=r"^[a-z0-9._-]*$",
        description="Put before every topic name, to keep several environments on one cluster apart.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to the brokers."
    )
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = Field(
        default=None, description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, description="SASL user.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    ssl_cafile: str | None = Field(default=None, description="CA bundle (PEM) that signed the brokers' certificates.")
    ssl_certfile: str | None = Field(default=None, description="Client certificate (PEM), for mutual TLS.")
    ssl_keyfile: str | None = Field(default=None, description="Client private key (PEM), for mutual TLS.")
    request_timeout_ms: int = Field(
        default=40_000,
        ge=1_000,
        description="How long a publish waits for the brokers before it fails (and the platform retries it).",
    )
    dlq_retention_days: int = Field(
        default=30, ge=1, description="How long a dead-letter topic keeps its messages (set when topics are made)."
    )


class ServiceSettings(BaseSettings):
    """Base for each service's settings; subclasses set `env_prefix` (e.g. `QAF_ALLOCATION_`)."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    service_name: str = Field(default="qaf", description="Name used in logs, consumer groups and `source`.")
    database_url: str = Field(
        default="",
        description="PostgreSQL server (an admin URL: the service creates its own role and schema in it). "
        "Unset, the platform-wide DATABASE_URL applies, then the embedded default.",
    )
    db_role_password: SecretStr = Field(
        default=SecretStr("qaf-dev-password"),
        description="Password of the service's own database role (created by `migrate`).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    http_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP server binds; unset, the platform-wide QAF_HTTP_HOST (0.0.0.0 in the image).",
    )
    http_port: int = Field(default=8000, description="HTTP port: API, /health, /ready, /metrics, /docs.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR (JSON logs on stderr).")
    outbox_poll_interval_s: float = Field(
        default=0.2, gt=0, description="Safety-net poll of the outbox; the relay is normally woken by NOTIFY."
    )
    consumer_retry_backoff_s: float = Field(
        default=1.0, gt=0, description="First pause before a record that failed is retried; it doubles each time."
    )
    consumer_retry_backoff_max_s: float = Field(
        default=30.0, gt=0, description="Longest pause between two tries of a failing record (jitter below it)."
    )
    consumer_retry_max_attempts: int = Field(
        default=10,
        ge=1,
        description="Tries of a record failing with an error not known to be permanent before it is "
        "dead-lettered as 'failed repeatedly' (a passing failure is retried without end).",
    )
    consumer_retry_max_duration_s: float = Field(
        default=900.0,
        gt=0,
        description="Or this long since its first failure, whichever comes first.",
    )
    outbox_retention_days: float = Field(
        default=7.0, gt=0, description="How long a published outbox row is kept before it is pruned."
    )
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000, description="Most records applied in one transaction.")
    consumer_batch_timeout_ms: int = Field(default=20, ge=0, description="How long a fetch waits for more records.")
    graceful_timeout_s: float = Field(
        default=15.0, gt=0, description="On SIGTERM, how long in-flight work may take to finish."
    )

    @model_validator(mode="after")
    def _platform_wide_database_url(self) -> "ServiceSettings":
        # The service's own prefixed variable wins; then DATABASE_URL; then the embedded default.
        if not self.database_url:
            self.database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        # Likewise the bind address: the image sets the platform-wide QAF_HTTP_HOST (0.0.0.0).
        if "http_host" not in self.model_fields_set and os.environ.get("QAF_HTTP_HOST"):
            self.http_host = os.environ["QAF_HTTP_HOST"]
        return self
