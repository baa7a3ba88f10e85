"""Settings read the environment the documented way; logs carry ids and never secrets."""

from __future__ import annotations

import json

import pytest
import structlog

from qaf_shared.kafka import client_options, make_broker
from qaf_shared.logging import configure_logging
from qaf_shared.settings import KafkaSettings, ServiceSettings


def test_kafka_speaks_plaintext_when_no_security_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    options = client_options(KafkaSettings(bootstrap_servers="k:9092"))
    assert options == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_scram_over_tls_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "qaf-reporting")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = KafkaSettings()
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "qaf-reporting"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["ssl_context"] is not None
    assert "s3cret" not in repr(settings), "the password must not show in a settings dump"
    make_broker(settings, client_id="qaf-test")  # FastStream accepts the same security


def test_a_service_prefix_wins_over_the_platform_wide_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsConfigDict

    class DemoSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="QAF_DEMO_", extra="ignore")

    monkeypatch.setenv("DATABASE_URL", "postgresql://a@h/platform")
    assert DemoSettings().database_url == "postgresql://a@h/platform"
    monkeypatch.setenv("QAF_DEMO_DATABASE_URL", "postgresql://a@h/own")
    assert DemoSettings().database_url == "postgresql://a@h/own"


@pytest.fixture
def restore_logging() -> object:
    """configure_logging binds the stream of the moment: leave no handle on this test's capture behind."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level


def test_logs_are_json_with_the_bound_event_ids_and_secrets_redacted(
    capsys: pytest.CaptureFixture[str], restore_logging: object
) -> None:
    configure_logging("demo", "INFO")
    log = structlog.get_logger("test")
    with structlog.contextvars.bound_contextvars(event_id="e-1", correlation_id="c-1"):
        log.info("consumer.event_handled", password="hunter2", token="qaf_x_y")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "consumer.event_handled"
    assert line["event_id"] == "e-1" and line["correlation_id"] == "c-1" and line["service"] == "demo"
    assert line["password"] == "***" and line["token"] == "***"
