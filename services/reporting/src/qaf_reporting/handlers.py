"""Thin handlers: turn an event into counter increments (domain), count them (use case).

The shared EventConsumer has already recorded the event in processed_events in this transaction.
For batches, `prepare` runs before the transaction (pure work, so the consumer can prepare the next
batch while PostgreSQL applies this one) and `apply_effects` counts the prepared effects together.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from qaf_shared import topics
from qaf_shared.envelope import REGISTRY, Envelope, Payload
from qaf_shared.kafka import PermanentFailure
from qaf_shared.unit_of_work import PostgresUnitOfWork

from qaf_reporting import usecases
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.domain.effects import RULES, Counted, Effects, RejectedEvent, effects_of

CONSUMER = "reporting"
TOPICS = (topics.AUDITS, topics.ALLOCATIONS, topics.ESCALATIONS, topics.COMPLAINTS, topics.CASES)


def prepare(event: Envelope[Counted]) -> Effects:
    """The event's counter increments; an event reporting can never count is a permanent failure."""
    try:
        return effects_of(event)
    except RejectedEvent as exc:
        raise PermanentFailure(str(exc)) from None


async def apply_event(conn: asyncpg.Connection, event: Envelope[Counted]) -> None:
    await apply_effects(conn, [prepare(event)])


async def apply_effects(conn: asyncpg.Connection, effects: Sequence[Effects]) -> None:
    """A batch at once: set-based writes of every event's counter increments, in the consumer's transaction."""
    await usecases.count_events(PostgresUnitOfWork.joined(conn, Repository), effects)


# The payload classes of every event type reporting counts.
HANDLED_EVENTS: tuple[type[Payload], ...] = tuple(REGISTRY[event_type] for event_type in RULES)
