"""Prometheus metrics every service exposes on /metrics."""

from prometheus_client import Counter, Gauge

EVENTS_HANDLED = Counter(
    "qaf_events_handled_total",
    "Events taken from Kafka, by consumer, event type and outcome (applied, duplicate, ignored).",
    ["consumer", "event_type", "outcome"],
)
DEAD_LETTERED = Counter(
    "qaf_dead_lettered_total",
    "Messages sent to a dead-letter topic, by consumer and origin topic.",
    ["consumer", "topic"],
)
TRANSIENT_FAILURES = Counter(
    "qaf_transient_failures_total",
    "Handling attempts that failed for a passing reason (database or broker down) and were retried.",
    ["consumer"],
)
RETRIES = Counter(
    "qaf_consumer_retries_total",
    "Records put back to be tried again in place, by consumer and why: transient (database or broker "
    "unavailable), unexpected (an error not known to be permanent) or dead-letter (the dead-letter "
    "publish itself failed).",
    ["consumer", "kind"],
)
RETRYING_PARTITIONS = Gauge(
    "qaf_consumer_retrying_partitions",
    "Partitions a consumer has paused while a record on them waits to be retried.",
    ["consumer"],
)
OUTBOX_PUBLISHED = Counter("qaf_outbox_published_total", "Outbox events relayed to Kafka.", ["service"])
OUTBOX_PENDING = Gauge("qaf_outbox_pending", "Outbox events not yet relayed to Kafka.", ["service"])
OUTBOX_QUARANTINED = Gauge(
    "qaf_outbox_quarantined",
    "Outbox events the broker refused for good, moved aside with their reason (`outbox quarantined`).",
    ["service"],
)
OUTBOX_PRUNED = Counter("qaf_outbox_pruned_total", "Published outbox rows deleted after their retention.", ["service"])
