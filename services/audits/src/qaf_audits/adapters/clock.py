"""What 'today' is for the overdue sweep: the calendar, or the event time the service has reached.

A simulated year runs months in minutes on event time, and a replay of the log must flag the same
audits: so the default clock is the high-water mark of `occurred_at` over consumed events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

import asyncpg

from qaf_audits.adapters import repository


class Clock(Protocol):
    async def today(self, conn: asyncpg.Connection) -> date | None:
        """The date to sweep as of, or None when there is no notion of time yet."""


class WallClock:
    async def today(self, conn: asyncpg.Connection) -> date | None:
        return datetime.now(UTC).date()


class EventClock:
    async def today(self, conn: asyncpg.Connection) -> date | None:
        high_water = await repository.clock_high_water(conn)
        return high_water.astimezone(UTC).date() if high_water else None


class FixedClock:
    def __init__(self, day: date | None) -> None:
        self.day = day

    async def today(self, conn: asyncpg.Connection) -> date | None:
        return self.day


def clock_named(name: str) -> Clock:
    return WallClock() if name == "wall" else EventClock()
