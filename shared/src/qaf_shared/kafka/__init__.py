"""Kafka plumbing: topic administration, the idempotent consumer with its dead-letter topic, the outbox."""

from qaf_shared.kafka.admin import ensure_topics
from qaf_shared.kafka.connection import client_options, make_broker, make_producer
from qaf_shared.kafka.consumer import (
    AfterCommit,
    BatchHandler,
    BatchOutcome,
    EventConsumer,
    EventHandler,
    Handlers,
    PermanentFailure,
    PreparedBatch,
    Preparer,
    RetryPolicy,
    classify,
)
from qaf_shared.kafka.outbox import OutboxRelay, enqueue

__all__ = [
    "AfterCommit",
    "BatchHandler",
    "BatchOutcome",
    "EventConsumer",
    "EventHandler",
    "Handlers",
    "OutboxRelay",
    "PermanentFailure",
    "PreparedBatch",
    "Preparer",
    "RetryPolicy",
    "classify",
    "client_options",
    "enqueue",
    "ensure_topics",
    "make_broker",
    "make_producer",
]
