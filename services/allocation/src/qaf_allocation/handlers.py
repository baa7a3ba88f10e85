"""Thin handlers: take an event and the connection of its transaction, apply it."""

from typing import Any

import asyncpg

from qaf_shared.envelope import Envelope


async def record_event(conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    """Record what arrived (skeleton: the service's own rules come in their issue)."""
    await conn.execute(
        """
        INSERT INTO case_events_seen (event_id, event_type, entity_key, occurred_at)
        VALUES ($1, $2, $3, $4)
        """,
        event.event_id,
        event.event_type,
        event.payload.partition_key(),
        event.occurred_at,
    )


HANDLED_EVENTS = ("case-opened", "case-updated", "case-closed",)
