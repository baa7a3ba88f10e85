"""The cases known from the case systems' events: enough to refuse an escalation or complaint about an
unknown or closed case, and to address an escalation to the case's team and manager."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from qaf_shared.vocabulary import Service


@dataclass(frozen=True)
class KnownCase:
    case_id: str
    service: Service | None
    team_id: str | None
    team_manager_id: str | None
    opened_on: date | None
    closed_on: date | None

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None


@dataclass(frozen=True)
class Note:
    """Free text a desk role added to an action; stored and shown to the desk, never published."""

    action: str
    on_date: date
    author: str
    note: str
