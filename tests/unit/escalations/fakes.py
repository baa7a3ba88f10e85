"""An in-memory stand-in for the escalations repository, for unit tests of the use cases.

Aggregates are stored as copies, so a use case that changes one without saving it changes nothing,
as with the database."""

from __future__ import annotations

import copy
from datetime import date, datetime

from qaf_shared.clock import FixedClock
from qaf_shared.unit_of_work import FakeUnitOfWork
from qaf_shared.vocabulary import Service

from qaf_escalations.domain.cases import KnownCase, Note
from qaf_escalations.domain.complaints import Complaint, StageRecord
from qaf_escalations.domain.escalations import Escalation, Step
from qaf_escalations.usecases import Context


class FakeRepository:
    def __init__(self) -> None:
        self.cases: dict[str, KnownCase] = {}
        self.case_state_at: dict[str, datetime] = {}
        self.case_closed_at: dict[str, datetime] = {}
        self.escalations: dict[str, Escalation] = {}
        self.complaints: dict[str, Complaint] = {}
        self.notes_by_subject: dict[tuple[str, str], list[Note]] = {}
        self.latest_event_date: date | None = None

    # --- cases --------------------------------------------------------------------------------

    def know_case(
        self, case_id: str, service: Service, *, team_id: str = "T-1", team_manager_id: str = "TM-1",
        opened_on: date | None = None, closed_on: date | None = None,
    ) -> None:
        """Set up a case as the case systems' events would have left it."""
        self.cases[case_id] = KnownCase(case_id, service, team_id, team_manager_id, opened_on, closed_on)

    async def upsert_case_state(
        self, *, case_id: str, service: str, team_id: str, team_manager_id: str, opened_on: date | None,
        at: datetime, reopens: bool,
    ) -> None:
        """As the SQL does: the latest state by event time wins; an opening reopens an older closure."""
        held = self.cases.get(case_id) or KnownCase(case_id, None, None, None, None, None)
        state_at = self.case_state_at.get(case_id)
        if state_at is None or state_at <= at:
            self.case_state_at[case_id] = at
            held = KnownCase(case_id, Service(service), team_id, team_manager_id, opened_on or held.opened_on,
                             held.closed_on)
        closed_at = self.case_closed_at.get(case_id)
        if reopens and closed_at is not None and closed_at < at:
            del self.case_closed_at[case_id]
            held = KnownCase(case_id, held.service, held.team_id, held.team_manager_id, held.opened_on, None)
        self.cases[case_id] = held

    async def close_case(self, *, case_id: str, closed_on: date, at: datetime) -> None:
        held = self.cases.get(case_id) or KnownCase(case_id, None, None, None, None, None)
        closed_at = self.case_closed_at.get(case_id)
        if closed_at is None or closed_at <= at:
            self.case_closed_at[case_id] = at
            self.cases[case_id] = KnownCase(case_id, held.service, held.team_id, held.team_manager_id,
                                            held.opened_on, closed_on)

    async def get_case(self, case_id: str) -> KnownCase | None:
        return self.cases.get(case_id)

    # --- event clock and notes ----------------------------------------------------------------

    async def advance_event_clock(self, day: date) -> None:
        self.latest_event_date = max(day, self.latest_event_date) if self.latest_event_date else day

    async def event_clock(self) -> date | None:
        return self.latest_event_date

    async def add_note(self, kind: str, subject_id: str, action: str, on: date, author: str, note: str | None) -> None:
        if note:
            self.notes_by_subject.setdefault((kind, subject_id), []).append(Note(action, on, author, note))

    async def notes(self, kind: str, subject_id: str) -> list[Note]:
        return list(self.notes_by_subject.get((kind, subject_id), []))

    # --- escalations --------------------------------------------------------------------------

    async def escalation_exists(self, escalation_id: str) -> bool:
        return escalation_id in self.escalations

    async def get_escalation(self, escalation_id: str, *, for_update: bool = False) -> Escalation | None:
        return copy.deepcopy(self.escalations.get(escalation_id))

    async def save_escalation(self, escalation: Escalation) -> None:
        self.escalations[escalation.escalation_id] = copy.deepcopy(escalation)

    async def open_escalations_due_before(self, as_of: date, limit: int = 500) -> list[str]:
        due = [e for e in self.escalations.values()
               if e.status == "open" and e.current.due_on < as_of and e.stage not in e.overdue_stages]
        return [e.escalation_id for e in sorted(due, key=lambda e: (e.current.due_on, e.escalation_id))][:limit]

    async def list_escalations(
        self, *, status: str | None, case_id: str | None, service: str | None, limit: int, offset: int
    ) -> list[str]:
        chosen = [e for e in self.escalations.values()
                  if status in (None, e.status) and case_id in (None, e.case_id) and service in (None, e.service)]
        ordered = sorted(chosen, key=lambda e: (e.raised_on, e.escalation_id))
        return [e.escalation_id for e in ordered][offset:offset + limit]

    async def escalation_steps(
        self, *, started_from: date | None, started_to: date | None, service: str | None
    ) -> list[tuple[Service, Step, bool]]:
        return [
            (e.service, copy.deepcopy(s), s.stage in e.overdue_stages)
            for e in self.escalations.values() if service in (None, e.service)
            for s in e.steps
            if (started_from is None or s.started_on >= started_from)
            and (started_to is None or s.started_on <= started_to)
        ]

    # --- complaints ---------------------------------------------------------------------------

    async def complaint_exists(self, complaint_id: str) -> bool:
        return complaint_id in self.complaints

    async def get_complaint(self, complaint_id: str, *, for_update: bool = False) -> Complaint | None:
        return copy.deepcopy(self.complaints.get(complaint_id))

    async def save_complaint(self, complaint: Complaint) -> None:
        self.complaints[complaint.complaint_id] = copy.deepcopy(complaint)

    async def list_complaints(
        self, *, service: str | None, case_id: str | None, limit: int, offset: int
    ) -> list[str]:
        chosen = [c.complaint_id for c in self.complaints.values()
                  if service in (None, c.service) and case_id in (None, c.case_id)]
        return chosen[offset:offset + limit]

    async def stage_records(
        self, *, received_from: date | None, received_to: date | None, service: str | None
    ) -> list[tuple[Service, StageRecord]]:
        return [
            (c.service, copy.deepcopy(r))
            for c in self.complaints.values() if service in (None, c.service)
            for r in c.stages
            if (received_from is None or r.received_on >= received_from)
            and (received_to is None or r.received_on <= received_to)
        ]


def fake_unit_of_work() -> FakeUnitOfWork[FakeRepository]:
    return FakeUnitOfWork(FakeRepository())


def context_on(today: date) -> Context:
    """The default timescales and calendar, with the service's today pinned."""
    return Context(clock=FixedClock(today))
