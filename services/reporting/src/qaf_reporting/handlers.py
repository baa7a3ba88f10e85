"""Thin handlers: turn an event into counter increments (domain), apply them (repository).

The shared EventConsumer has already recorded the event in processed_events in this transaction.
For batches, `prepare` runs before the transaction (pure work, so the consumer can prepare the next
batch while PostgreSQL applies this one) and `apply_effects` applies the prepared effects together.
"""

from collections.abc import Sequence
from typing import Any

import asyncpg

from qaf_shared.envelope import REGISTRY, Envelope, Payload
from qaf_shared.kafka import PermanentFailure

from qaf_reporting.adapters import repository
from qaf_reporting.domain.effects import RULES, Effects, RejectedEvent, effects_of


def prepare(event: Envelope[Any]) -> Effects:
    """The event's counter increments; an event reporting can never count is a permanent failure."""
    try:
        return effects_of(event)
    except RejectedEvent as exc:
        raise PermanentFailure(str(exc)) from None


async def apply_event(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    await repository.apply(conn, [prepare(event)])


async def apply_effects(conn: asyncpg.Connection, effects: Sequence[Effects]) -> None:
    """A batch at once: set-based writes of every event's counter increments."""
    await repository.apply(conn, effects)


# The payload classes of every event type reporting counts.
HANDLED_EVENTS: tuple[type[Payload], ...] = tuple(REGISTRY[event_type] for event_type in RULES)
