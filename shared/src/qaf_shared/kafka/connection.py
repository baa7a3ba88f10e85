"""Kafka clients configured the platform's way: acks=all, idempotence, optional SASL/TLS."""

import logging
import ssl
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from qaf_shared.settings import KafkaSettings

# Room for a 1 MB payload plus its envelope and dead-letter headers.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
        if settings.ssl_certfile:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        options["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism or "SCRAM-SHA-512"
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


def make_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": MAX_MESSAGE_BYTES,
        "linger_ms": 2,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    return AIOKafkaProducer(**{**options, **overrides})


def make_broker(settings: KafkaSettings, *, client_id: str, graceful_timeout: float = 15.0) -> KafkaBroker:
    """A FastStream broker for subscribing; its own producer also uses acks=all and idempotence."""
    options = client_options(settings)
    bootstrap = options.pop("bootstrap_servers")
    security_protocol = options.pop("security_protocol")
    security = None
    if security_protocol != "PLAINTEXT":
        from faststream.security import (
            BaseSecurity,
            SASLPlaintext,
            SASLScram256,
            SASLScram512,
        )

        context = options.get("ssl_context")
        use_ssl = security_protocol.endswith("SSL")
        if not security_protocol.startswith("SASL"):
            security = BaseSecurity(ssl_context=context, use_ssl=True)
        else:
            cls = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}.get(
                options["sasl_mechanism"], SASLPlaintext
            )
            security = cls(
                username=options["sasl_plain_username"],
                password=options["sasl_plain_password"],
                ssl_context=context,
                use_ssl=use_ssl,
            )
    return KafkaBroker(
        # A list: FastStream takes a string as one host, so "a:9092,b:9092" would not resolve.
        [server.strip() for server in bootstrap.split(",") if server.strip()],
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_request_size=MAX_MESSAGE_BYTES,
        security=security,
        graceful_timeout=graceful_timeout,
        # FastStream's per-message lines go through the service's JSON logging, at debug level.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )
