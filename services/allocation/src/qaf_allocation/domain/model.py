"""The allocation service's domain: cases, auditors, allocations. Pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from qaf_shared.errors import Conflict, Invalid, NotFound, field_location
from qaf_shared.vocabulary import LegalStatus, Service


# Allocation's refusals are also ValueErrors, as they have always been: the command line reports a
# ValueError as bad input (exit status 2), and callers of the domain catch them so.


class UnknownEntity(NotFound, ValueError):
    """The thing referred to does not exist (HTTP 404, Kafka: dead letter)."""


class IllegalChange(Conflict, ValueError):
    """The change conflicts with what is stored (HTTP 409, Kafka: dead letter)."""


class InvalidInput(Invalid, ValueError):
    """The input can never be accepted as it is (HTTP 422, Kafka: dead letter).

    Allocation's refusals have always read as the rule alone, over HTTP without a `field` key: its
    clients parse them so, and the CLI and dead letters print them so.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.message = message
        self.args = (message,)

    def detail(self) -> list[dict[str, object]]:
        return [{"loc": field_location(self.field or ""), "msg": self.message, "type": "value_error"}]


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True, slots=True)
class Case:
    """A case as the case systems last described it. Event times decide which description wins."""

    case_id: str
    service: Service
    team_id: str
    worker_id: str
    team_manager_id: str
    legal_status: LegalStatus
    opened_on: date
    closed_on: date | None
    state_at: datetime  # event time of the details in force (latest case-opened/-updated)
    opened_at: datetime  # event time of the latest case-opened
    closed_at: datetime | None = None  # event time of the closure in force

    def open_during(self, start: date, end: date) -> bool:
        """Open at some point between `start` and `end` (both included)."""
        return self.opened_on <= end and (self.closed_on is None or self.closed_on >= start)


@dataclass(frozen=True, slots=True)
class CaseDetails:
    service: Service
    team_id: str
    worker_id: str
    team_manager_id: str
    legal_status: LegalStatus


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What applying one case event did: the case afterwards, and whether the event changed it."""

    case: Case
    applied: bool
    note: str


def open_case(current: Case | None, case_id: str, details: CaseDetails, opened_on: date, at: datetime) -> CaseChange:
    """case-opened. A later opening than the closure in force reopens the case."""
    if current is None:
        case = Case(case_id, details.service, details.team_id, details.worker_id, details.team_manager_id,
                    details.legal_status, opened_on, None, state_at=at, opened_at=at)
        return CaseChange(case, True, "opened")
    case, notes = current, []
    if at >= case.state_at:
        case = _with_details(case, details, at)
        notes.append("details")
    if at >= case.opened_at:
        case = replace(case, opened_on=opened_on, opened_at=at)
        notes.append("opened_on")
    if case.closed_at is not None and at > case.closed_at:
        case = replace(case, closed_on=None, closed_at=None)
        notes.append("reopened")
    if case.closed_on is not None and case.opened_on > case.closed_on:
        case = replace(case, closed_on=None, closed_at=None)
        notes.append("reopened")
    return CaseChange(case, bool(notes), ",".join(notes) or "stale")


def update_case(current: Case | None, case_id: str, details: CaseDetails, at: datetime) -> CaseChange:
    """case-updated: the case's state in full. An older update than the details in force is ignored."""
    if current is None:
        raise UnknownEntity(f"case-updated for unknown case {case_id}: no case-opened has been received", field="case_id")
    if at < current.state_at:
        return CaseChange(current, False, "stale")
    return CaseChange(_with_details(current, details, at), True, "details")


def close_case(current: Case | None, case_id: str, closed_on: date, at: datetime) -> CaseChange:
    """case-closed. A closure older than the latest opening is ignored (the case was reopened)."""
    if current is None:
        raise UnknownEntity(f"case-closed for unknown case {case_id}: no case-opened has been received", field="case_id")
    if closed_on < current.opened_on:
        raise InvalidInput(
            f"case {case_id} closed_on {closed_on} is before its opened_on {current.opened_on}", field="closed_on"
        )
    if at < current.opened_at or (current.closed_at is not None and at < current.closed_at):
        return CaseChange(current, False, "stale")
    return CaseChange(replace(current, closed_on=closed_on, closed_at=at), True, "closed")


def _with_details(case: Case, details: CaseDetails, at: datetime) -> Case:
    return replace(case, service=details.service, team_id=details.team_id, worker_id=details.worker_id,
                   team_manager_id=details.team_manager_id, legal_status=details.legal_status, state_at=at)


# --------------------------------------------------------------------------- auditors


@dataclass(frozen=True, slots=True)
class Absence:
    starts_on: date
    ends_on: date

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise InvalidInput(f"absence ends_on {self.ends_on} is before starts_on {self.starts_on}", field="ends_on")

    def overlaps(self, start: date, end: date) -> bool:
        return self.starts_on <= end and self.ends_on >= start


@dataclass(frozen=True, slots=True)
class Auditor:
    """A manager on the audit roster. `capacity` is how many audits a month they can take."""

    auditor_id: str
    service: Service
    manages_teams: frozenset[str] = frozenset()
    is_lead: bool = False
    capacity: int = 2
    absences: tuple[Absence, ...] = ()
    active: bool = True

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise InvalidInput(f"capacity of {self.auditor_id} must be 0 or more, not {self.capacity}", field="capacity")

    def absence_during(self, start: date, end: date) -> Absence | None:
        return next((a for a in sorted(self.absences, key=lambda a: a.starts_on) if a.overlaps(start, end)), None)

    def unavailable_because(self, start: date, end: date) -> str | None:
        """Why this auditor cannot take work due between `start` and `end`, or None."""
        if not self.active:
            return "inactive"
        if self.capacity == 0:
            return "capacity 0"
        absence = self.absence_during(start, end)
        if absence is not None:
            return f"absent {absence.starts_on} to {absence.ends_on}"
        return None

    def conflict_with(self, case: Case) -> str | None:
        """Why this auditor may not audit `case`: they hold it, or manage a team that does."""
        if self.auditor_id == case.worker_id:
            return "holds the case"
        if self.auditor_id == case.team_manager_id:
            return "manages the case"
        if case.team_id in self.manages_teams:
            return f"manages team {case.team_id}"
        return None


def leads_by_service(roster: list[Auditor] | tuple[Auditor, ...]) -> dict[Service, Auditor]:
    return {a.service: a for a in sorted(roster, key=lambda a: a.auditor_id) if a.active and a.is_lead}


def check_roster(roster: list[Auditor]) -> None:
    """At most one active lead auditor per service."""
    seen: dict[Service, str] = {}
    for auditor in sorted(roster, key=lambda a: a.auditor_id):
        if auditor.active and auditor.is_lead:
            if auditor.service in seen:
                raise IllegalChange(
                    f"service {auditor.service.value} already has lead auditor {seen[auditor.service]}; "
                    f"{auditor.auditor_id} cannot also be its lead",
                    field="is_lead",
                )
            seen[auditor.service] = auditor.auditor_id


# --------------------------------------------------------------------------- allocations


@dataclass(frozen=True, slots=True)
class DrawSettings:
    sample_size: int = 50
    window_months: int = 6
    recent_audit_months: int = 12

    def __post_init__(self) -> None:
        if self.sample_size < 1:
            raise InvalidInput("sample_size must be at least 1", field="sample_size")
        if self.window_months < 1:
            raise InvalidInput("window_months must be at least 1", field="window_months")
        if self.recent_audit_months < 0:
            raise InvalidInput("recent_audit_months must be 0 or more", field="recent_audit_months")


@dataclass(frozen=True, slots=True)
class Allocation:
    audit_id: str
    case_id: str
    service: Service
    team_id: str
    team_manager_id: str
    worker_id: str
    auditor_id: str
    lead_auditor_id: str
    month: str
    due_on: date
    draw_position: int
    stratum_position: int
    explanation: str


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why the draw has fewer allocations than asked for, or why a case was passed over."""

    code: str
    message: str
    service: Service | None = None
    case_id: str | None = None
    count: int = 0


@dataclass(frozen=True)
class DrawResult:
    month: str
    as_of: date
    seed: int
    due_on: date
    requested: int
    target: int
    allocations: list[Allocation]
    shortfall: list[Shortfall]
    quotas: dict[Service, int]
    open_by_service: dict[Service, int]
    eligible_by_service: dict[Service, int]
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def loads(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for allocation in self.allocations:
            out[allocation.auditor_id] = out.get(allocation.auditor_id, 0) + 1
        return out


# --------------------------------------------------------------------------- what is recorded


@dataclass(frozen=True, slots=True)
class RecordedMove:
    """A reallocation of an audit, as recorded."""

    previous_auditor_id: str
    auditor_id: str
    effective_on: date
    explanation: str


@dataclass(frozen=True, slots=True)
class StoredAllocation:
    """An allocation as it stands now: who holds it, and what happened to it since the draw."""

    audit_id: str
    case_id: str
    service: Service
    team_id: str
    team_manager_id: str
    auditor_id: str
    original_auditor_id: str
    lead_auditor_id: str
    due_on: date
    draw_position: int
    stratum_position: int
    explanation: str
    withdrawn: bool
    completed: bool
    reallocations: tuple[RecordedMove, ...]


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """Who drew a month when, from which seed, and whether a redraw superseded it."""

    draw_id: str
    month: str
    seq: int
    as_of: date
    seed: int
    requested_by: str
    trigger: str
    created_at: datetime
    superseded_at: datetime | None
    superseded_by: str | None

    @property
    def redraw(self) -> bool:
        return self.seq > 0


@dataclass(frozen=True)
class RecordedDraw:
    """A draw with what it was asked for, what it found and what it allocated."""

    record: DrawRecord
    settings: dict[str, int]
    requested: int
    quotas: dict[str, int]
    open_by_service: dict[str, int]
    shortfall: list[Shortfall]
    stats: dict[str, int]
    allocations: list[StoredAllocation]


@dataclass(frozen=True)
class DrawnMonth:
    """A month's draw in force, and every draw of the month in order."""

    draw: RecordedDraw
    history: list[DrawRecord]


@dataclass(frozen=True)
class Population:
    """Cases known, and open in the window to `as_of` by service."""

    as_of: date
    window_start: date
    cases_known: int
    open_by_service: dict[Service, int]
    due_on: date
