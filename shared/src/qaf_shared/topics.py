"""The topic catalogue: every topic the platform uses, what keys it, how many partitions it has and
how long the broker keeps its messages.

Topics are created explicitly from this catalogue (never by broker auto-create). Each topic has a
dead-letter twin, `<name>.dlq`, for messages that can never be processed.

Retention is explicit per topic (`retention_ms`, -1 for ever), never the broker's default (7 days on a
stock broker). The platform is event-sourced: `qaf-reporting replay` rebuilds every figure from offset
zero, and each service's state is a function of the events it read, so a topic that lost its first
messages would silently give smaller figures. Those topics keep their whole history. Compaction
(cleanup.policy=compact) is no substitute: these are streams of facts (every audit, every escalation
stage, every case update), not tables of the latest value per key, and compacting would keep only the
last event per key. Dead-letter twins keep their messages for `KafkaSettings.dlq_retention_days`
(30 by default): long enough to inspect and re-drive them, and nothing is ever rebuilt from them.
"""

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"
FOREVER = -1  # retention.ms of a topic the broker never deletes from


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    description: str
    # retention.ms set on the broker; None (topics outside the catalogue, e.g. a benchmark's own)
    # leaves the broker's default alone
    retention_ms: int | None = None

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


CASES = Topic(
    "qaf.cases", "case_id", 6, "Case lifecycle published by the case systems.",
    # a case open for years has only its case-opened to show it is open: allocation and replay need it
    retention_ms=FOREVER,
)
ALLOCATION_COMMANDS = Topic(
    "qaf.allocation-commands", "month", 1, "Commands to the allocation service (monthly run requests).",
    # the record of which draws were asked for, and when; twelve messages a year
    retention_ms=FOREVER,
)
ALLOCATIONS = Topic(
    "qaf.allocations", "audit_id", 6, "Audits allocated to auditors, and reallocations.",
    # read from zero by reporting's replay (audits allocated); the audits service's audits come from it
    retention_ms=FOREVER,
)
AUDITS = Topic(
    "qaf.audits", "audit_id", 6, "Completed audits, practice concerns and overdue audits.",
    # the source of every audit figure: reporting's replay reads it from zero
    retention_ms=FOREVER,
)
ESCALATIONS = Topic(
    "qaf.escalations", "escalation_id", 6, "CPA and IRO escalations (dispute resolution).",
    # the source of every escalation figure: reporting's replay reads it from zero
    retention_ms=FOREVER,
)
COMPLAINTS = Topic(
    "qaf.complaints", "complaint_id", 6, "Complaints under the three-stage procedure.",
    # the source of every complaint figure: reporting's replay reads it from zero
    retention_ms=FOREVER,
)
THEMES = Topic(
    "qaf.themes", "theme", 6, "Rolling theme figures published by reporting.",
    # derived, but never re-sent whole (a replay publishes only the figures that changed) while subscribers
    # rebuild their views from offset zero (docs/subscribing.md); keyed by theme, so compaction would lose figures
    retention_ms=FOREVER,
)
ACTIONS = Topic(
    "qaf.actions", "area_id", 3, "Action plan milestones and drift against expected outcomes.",
    # the actions service reads its own milestones back, and drift flags are the Board's audit trail
    retention_ms=FOREVER,
)
BOARD = Topic(
    "qaf.board", "period", 1, "The Quality Assurance Board's alert digests.",
    # the record of every digest the Board was sent; one per Board meeting
    retention_ms=FOREVER,
)

CATALOGUE: tuple[Topic, ...] = (
    CASES,
    ALLOCATION_COMMANDS,
    ALLOCATIONS,
    AUDITS,
    ESCALATIONS,
    COMPLAINTS,
    THEMES,
    ACTIONS,
    BOARD,
)


def physical_name(name: str, prefix: str) -> str:
    """The name on the broker: the catalogue name behind the environment's prefix."""
    return prefix + name


def logical_name(name: str, prefix: str) -> str:
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def topic_named(name: str) -> Topic:
    for topic in CATALOGUE:
        if topic.name == name:
            return topic
    raise KeyError(f"no topic named {name!r} in the catalogue")


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    names = [t.name for t in CATALOGUE]
    if with_dlq:
        names += [t.dlq for t in CATALOGUE]
    return names
