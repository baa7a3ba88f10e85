"""The service's notion of today, injectable so tests and simulations can pin it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class Clock(Protocol):
    def today(self) -> date: ...


class SystemClock:
    """Today's date in England, from the machine's clock."""

    def today(self) -> date:
        return datetime.now(LONDON).date()


@dataclass
class FixedClock:
    """A clock that says what it is told (tests, replays, a simulated year)."""

    day: date

    def today(self) -> date:
        return self.day
