"""What the domain decided to tell the world: a contract payload and the date it happened on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from qaf_shared.envelope import Payload

from qaf_escalations.domain.errors import InvalidInput


@dataclass(frozen=True)
class Emitted:
    payload: Payload
    on: date

    @property
    def occurred_at(self) -> datetime:
        """Event time of a dated event: noon UTC of its date, so no time zone moves it across a month."""
        return datetime.combine(self.on, time(12, 0), tzinfo=UTC)


def not_in_future(value: date, field: str, today: date) -> date:
    """Refuse a date after the service's today (dates are event dates given by the caller)."""
    if value > today:
        raise InvalidInput(f"{field} {value.isoformat()} is in the future (today is {today.isoformat()})", field)
    return value
