"""What 'today' is: the wall clock, a fixed date (tests), or event time (a simulated year)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

import asyncpg

from qaf_actions.adapters import repository


class Clock(Protocol):
    async def today(self, conn: asyncpg.Connection) -> date | None: ...

    async def since(self, conn: asyncpg.Connection) -> date | None: ...


class WallClock:
    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._started = now().date()

    async def today(self, conn: asyncpg.Connection) -> date | None:
        return self._now().date()

    async def since(self, conn: asyncpg.Connection) -> date | None:
        return self._started


class FixedClock:
    """A clock set by hand (tests, and CLI runs for a given date)."""

    def __init__(self, today: date, since: date | None = None) -> None:
        self.value = today
        self._since = since or today

    async def today(self, conn: asyncpg.Connection) -> date | None:
        return self.value

    async def since(self, conn: asyncpg.Connection) -> date | None:
        return self._since


class EventClock:
    """Event time: the latest occurred_at consumed. None until the first event arrives."""

    async def today(self, conn: asyncpg.Connection) -> date | None:
        clock = await repository.event_clock(conn)
        return clock[1].astimezone(UTC).date() if clock else None

    async def since(self, conn: asyncpg.Connection) -> date | None:
        clock = await repository.event_clock(conn)
        return clock[0].astimezone(UTC).date() if clock else None
