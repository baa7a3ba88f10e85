"""The topic catalogue: every topic the platform uses, what keys it and how many partitions it has.

Topics are created explicitly from this catalogue (never by broker auto-create). Each topic has a
dead-letter twin, `<name>.dlq`, for messages that can never be processed.
"""

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    description: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


CASES = Topic("qaf.cases", "case_id", 6, "Case lifecycle published by the case systems.")
ALLOCATION_COMMANDS = Topic(
    "qaf.allocation-commands", "month", 1, "Commands to the allocation service (monthly run requests)."
)
ALLOCATIONS = Topic("qaf.allocations", "audit_id", 6, "Audits allocated to auditors, and reallocations.")
AUDITS = Topic("qaf.audits", "audit_id", 6, "Completed audits, practice concerns and overdue audits.")
ESCALATIONS = Topic("qaf.escalations", "escalation_id", 6, "CPA and IRO escalations (dispute resolution).")
COMPLAINTS = Topic("qaf.complaints", "complaint_id", 6, "Complaints under the three-stage procedure.")
THEMES = Topic("qaf.themes", "theme", 6, "Rolling theme figures published by reporting.")
ACTIONS = Topic("qaf.actions", "area_id", 3, "Action plan milestones and drift against expected outcomes.")
BOARD = Topic("qaf.board", "period", 1, "The Quality Assurance Board's alert digests.")

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
