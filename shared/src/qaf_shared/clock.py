"""What time it is for a service: the wall clock, a fixed moment (tests, CLI runs for a given date), or
event time (the latest `occurred_at` the service has consumed, so a simulated year and a replay of the
log see the same "today" as live processing did). Calendar dates are taken in Europe/London."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Literal, Protocol

from qaf_shared.calendar import LONDON, local_date

ClockName = Literal["wall", "event"]


class Clock(Protocol):
    async def now(self) -> datetime | None:
        """The current moment (aware), or None where there is no notion of time yet."""

    async def today(self) -> date | None:
        """Today's date in England, or None where there is no notion of time yet."""


class _Dated:
    async def now(self) -> datetime | None:  # pragma: no cover - every clock defines it
        raise NotImplementedError

    async def today(self) -> date | None:
        moment = await self.now()
        return local_date(moment) if moment is not None else None


class WallClock(_Dated):
    async def now(self) -> datetime | None:
        return datetime.now(UTC)


class FixedClock(_Dated):
    """Says what it is told; `set` moves it (a test's day passes)."""

    def __init__(self, moment: datetime | date | None) -> None:
        self.set(moment)

    def set(self, moment: datetime | date | None) -> None:
        if isinstance(moment, datetime) or moment is None:
            self._moment = moment
        else:  # a date: noon in England that day, so its date is that day whatever the offset
            self._moment = datetime.combine(moment, time(12), tzinfo=LONDON)

    async def now(self) -> datetime | None:
        return self._moment


class EventClock(_Dated):
    """Event time: the high-water mark of what the service consumed, read by `high_water`."""

    def __init__(self, high_water: Callable[[], Awaitable[datetime | None]]) -> None:
        self._high_water = high_water

    async def now(self) -> datetime | None:
        return await self._high_water()


def clock_named(name: ClockName, high_water: Callable[[], Awaitable[datetime | None]]) -> Clock:
    """The clock a service's settings name: `wall`, or `event` read through `high_water`."""
    return WallClock() if name == "wall" else EventClock(high_water)
