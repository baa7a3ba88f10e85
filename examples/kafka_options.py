"""Connection options for the examples' Kafka clients, from the same variables the platform reads.

KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), KAFKA_TOPIC_PREFIX (default empty), and when the
cluster is secured KAFKA_SECURITY_PROTOCOL (SSL, SASL_PLAINTEXT, SASL_SSL), KAFKA_SASL_MECHANISM,
KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CAFILE.
"""

from __future__ import annotations

import os
import ssl
from typing import Any


def topic(name: str) -> str:
    """The topic's name on the broker: the catalogue name behind the environment's prefix."""
    return os.environ.get("KAFKA_TOPIC_PREFIX", "") + name


def client_options() -> dict[str, Any]:
    env = os.environ.get
    protocol = env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {
        "bootstrap_servers": env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=env("KAFKA_SSL_CAFILE"))
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        options["sasl_plain_username"] = env("KAFKA_SASL_USERNAME")
        options["sasl_plain_password"] = env("KAFKA_SASL_PASSWORD")
    return options
