"""Thin handlers: take an event and the connection of its transaction, apply it.

The shared EventConsumer has already recorded the event in processed_events in this transaction;
the handler turns it into counter increments (domain) and applies them (repository).
"""

from collections.abc import Sequence
from typing import Any

import asyncpg

from qaf_shared.envelope import Envelope
from qaf_shared.kafka import PermanentFailure

from qaf_reporting.adapters import repository
from qaf_reporting.domain.effects import RULES, RejectedEvent, effects_of


async def apply_event(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    await apply_events(conn, [event])


async def apply_events(conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> None:
    """A batch at once: set-based writes of every event's counter increments."""
    effects = []
    for event in events:
        try:
            effects.append(effects_of(event))
        except RejectedEvent as exc:
            raise PermanentFailure(str(exc)) from None
    await repository.apply(conn, effects)


HANDLED_EVENTS: tuple[str, ...] = tuple(RULES)
