"""The use cases over an in-memory repository: what each stores and emits, and what each refuses
(a refusal commits nothing)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qaf_shared.contracts import (
    CaseClosed,
    CaseOpened,
    CaseUpdated,
    ComplaintLogged,
    ComplaintResolved,
    EscalationOverdue,
    EscalationProgressed,
    EscalationRaised,
    EscalationResolved,
)
from qaf_shared.unit_of_work import FakeUnitOfWork
from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStage,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    LegalStatus,
    Service,
)

from qaf_escalations import usecases
from qaf_escalations.domain.complaints import ExtensionReason
from qaf_escalations.domain.errors import (
    AlreadyExists,
    EventFromTheFuture,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from qaf_escalations.domain.permissions import Actor
from tests.unit.escalations.fakes import FakeRepository, context_on, fake_unit_of_work

TODAY = date(2014, 3, 31)
CTX = context_on(TODAY)
CPA = Actor("cpa", "CPA-07")
DESK = Actor("complaints", "DESK-1")
SS = Service.SAFEGUARDING_AND_SUPPORT
Uow = FakeUnitOfWork[FakeRepository]


@pytest.fixture
def uow() -> Uow:
    unit = fake_unit_of_work()
    unit.repository.know_case("C-1", SS, team_id="T-1", team_manager_id="TM-1", opened_on=date(2013, 4, 2))
    return unit


def payloads(uow: Uow) -> list[object]:
    return [event.payload for event in uow.committed_events]


async def raise_e1(uow: Uow, **overrides: object) -> None:
    fields: dict[str, object] = {"case_id": "C-1", "reason": EscalationReason.DRIFT_AND_DELAY,
                                 "raised_on": date(2013, 10, 3), "escalation_id": "E-1"} | overrides
    await usecases.raise_escalation(uow, CTX, CPA, **fields)  # type: ignore[arg-type]


# --- escalations ------------------------------------------------------------------------------


async def test_raising_stores_the_escalation_addressed_to_the_case_team_and_emits_it(uow: Uow) -> None:
    await raise_e1(uow, note="seen at the review")

    stored = uow.repository.escalations["E-1"]
    assert (stored.addressed_to_team_id, stored.addressed_to_manager_id) == ("T-1", "TM-1")
    assert (stored.raised_by_role, stored.raised_by_id) == (EscalationRole.CPA, "CPA-07")
    [raised] = payloads(uow)
    assert isinstance(raised, EscalationRaised)
    assert (raised.escalation_id, raised.stage, raised.due_on) == ("E-1", EscalationStage.INFORMAL, date(2013, 10, 10))
    assert [n.note for n in uow.repository.notes_by_subject[("escalation", "E-1")]] == ["seen at the review"]
    assert uow.repository.latest_event_date == date(2013, 10, 3)


@pytest.mark.parametrize(
    ("overrides", "refusal", "field"),
    [
        ({"case_id": "C-UNKNOWN"}, InvalidInput, "case_id"),
        ({"raised_on": date(2014, 4, 1)}, InvalidInput, "raised_on"),
        ({"raised_on": date(2013, 4, 1)}, InvalidInput, "raised_on"),  # before the case was opened
        ({"raised_by_role": EscalationRole.IRO}, NotAllowed, "raised_by_role"),
    ],
)
async def test_raising_refuses_bad_input_and_commits_nothing(
    uow: Uow, overrides: dict[str, object], refusal: type[Exception], field: str
) -> None:
    with pytest.raises(refusal) as refused:
        await raise_e1(uow, **overrides)
    assert refused.value.field == field  # type: ignore[attr-defined]
    assert uow.repository.escalations == {} and uow.committed_events == []


async def test_an_escalation_about_a_case_closed_before_is_refused(uow: Uow) -> None:
    uow.repository.know_case("C-2", SS, opened_on=date(2013, 4, 2), closed_on=date(2013, 9, 30))
    with pytest.raises(IllegalTransition, match="was closed on 2013-09-30"):
        await raise_e1(uow, case_id="C-2")
    assert uow.committed_events == []


async def test_an_escalation_id_cannot_be_used_twice(uow: Uow) -> None:
    await raise_e1(uow)
    with pytest.raises(AlreadyExists):
        await raise_e1(uow)
    assert len(uow.committed_events) == 1


async def test_progressing_to_team_manager_addresses_the_case_manager(uow: Uow) -> None:
    await raise_e1(uow)
    uow.repository.know_case("C-1", SS, team_id="T-1", team_manager_id="TM-NEW", opened_on=date(2013, 4, 2))

    escalation = await usecases.progress_escalation(uow, CTX, CPA, "E-1", progressed_on=date(2013, 10, 8))

    assert escalation.stage is EscalationStage.TEAM_MANAGER
    progressed = payloads(uow)[-1]
    assert isinstance(progressed, EscalationProgressed)
    assert (progressed.addressed_to_manager_id, progressed.due_on) == ("TM-NEW", date(2013, 10, 15))
    assert uow.repository.escalations["E-1"].stage is EscalationStage.TEAM_MANAGER


async def test_progressing_beyond_team_manager_must_name_the_manager(uow: Uow) -> None:
    await raise_e1(uow)
    with pytest.raises(InvalidInput) as refused:
        await usecases.progress_escalation(
            uow, CTX, CPA, "E-1", progressed_on=date(2013, 10, 8), to_stage=EscalationStage.SERVICE_MANAGER
        )
    assert refused.value.field == "addressed_to_manager_id"
    assert uow.repository.escalations["E-1"].stage is EscalationStage.INFORMAL


async def test_only_the_raiser_may_progress_and_an_unknown_escalation_is_not_found(uow: Uow) -> None:
    await raise_e1(uow)
    with pytest.raises(NotAllowed):
        await usecases.progress_escalation(uow, CTX, Actor("cpa", "CPA-99"), "E-1", progressed_on=date(2013, 10, 8))
    with pytest.raises(NotFound, match="no escalation E-9"):
        await usecases.progress_escalation(uow, CTX, CPA, "E-9", progressed_on=date(2013, 10, 8))
    assert len(uow.committed_events) == 1


async def test_resolving_emits_the_outcome_and_a_closed_escalation_cannot_be_resolved_again(uow: Uow) -> None:
    await raise_e1(uow)
    await usecases.resolve_escalation(
        uow, CTX, CPA, "E-1", resolved_on=date(2013, 10, 9), outcome=EscalationOutcome.PLAN_CHANGED
    )
    resolved = payloads(uow)[-1]
    assert isinstance(resolved, EscalationResolved)
    assert (resolved.outcome, resolved.within_timescale) == (EscalationOutcome.PLAN_CHANGED, True)

    with pytest.raises(IllegalTransition, match="already resolved"):
        await usecases.resolve_escalation(
            uow, CTX, CPA, "E-1", resolved_on=date(2013, 10, 10), outcome=EscalationOutcome.RESOLVED
        )
    assert len(uow.committed_events) == 2


async def test_withdrawing_is_published_as_a_resolution_with_outcome_withdrawn(uow: Uow) -> None:
    await raise_e1(uow)
    escalation = await usecases.withdraw_escalation(uow, CTX, CPA, "E-1", withdrawn_on=date(2013, 10, 4))
    assert escalation.status == "withdrawn"
    withdrawn = payloads(uow)[-1]
    assert isinstance(withdrawn, EscalationResolved) and withdrawn.outcome is EscalationOutcome.WITHDRAWN


async def test_the_sweep_reports_an_unanswered_stage_once(uow: Uow) -> None:
    await raise_e1(uow)  # due 10 October

    assert await usecases.sweep_overdue(uow, CTX, date(2013, 10, 10)) == []
    reported = await usecases.sweep_overdue(uow, CTX, date(2013, 10, 11))
    again = await usecases.sweep_overdue(uow, CTX, date(2013, 10, 20))

    assert reported == [usecases.OverdueReported("E-1", EscalationStage.INFORMAL, date(2013, 10, 10))]
    assert again == []
    overdue = [p for p in payloads(uow) if isinstance(p, EscalationOverdue)]
    assert [(p.escalation_id, p.stage, p.due_on) for p in overdue] == [
        ("E-1", EscalationStage.INFORMAL, date(2013, 10, 10))]
    assert uow.committed_events[-1].occurred_at == datetime(2013, 10, 11, 12, tzinfo=UTC)


async def test_the_sweep_refuses_a_date_after_today(uow: Uow) -> None:
    with pytest.raises(InvalidInput) as refused:
        await usecases.sweep_overdue(uow, CTX, date(2014, 4, 1))
    assert refused.value.field == "as_of"


async def test_the_background_sweep_runs_as_of_the_latest_event_date_capped_at_today(uow: Uow) -> None:
    assert await usecases.sweep_as_of(uow, CTX, "latest-event") is None
    uow.repository.latest_event_date = date(2013, 10, 14)
    assert await usecases.sweep_as_of(uow, CTX, "latest-event") == date(2013, 10, 14)
    assert await usecases.sweep_as_of(uow, context_on(date(2013, 10, 1)), "latest-event") == date(2013, 10, 1)
    assert await usecases.sweep_as_of(uow, CTX, "clock") == TODAY


async def test_notes_are_read_only_by_those_who_may_see_them(uow: Uow) -> None:
    await raise_e1(uow, note="free text")
    _, notes = await usecases.escalation_with_notes(uow, CPA, "E-1")
    _, hidden = await usecases.escalation_with_notes(uow, Actor("reporting", "R-1"), "E-1")
    assert [n.note for n in notes or []] == ["free text"] and hidden is None
    with pytest.raises(NotFound):
        await usecases.escalation_with_notes(uow, CPA, "E-9")


async def test_timeliness_defaults_to_today_and_refuses_a_later_date(uow: Uow) -> None:
    await raise_e1(uow)
    as_of, rows = await usecases.escalations_timeliness(uow, CTX, as_of=None, started_from=None, started_to=None,
                                                        service=None)
    assert as_of == TODAY
    assert [(r.stage, r.started, r.open_overdue) for r in rows] == [(EscalationStage.INFORMAL, 1, 1)]
    with pytest.raises(InvalidInput):
        await usecases.escalations_timeliness(uow, CTX, as_of=date(2014, 4, 1), started_from=None, started_to=None,
                                              service=None)


# --- complaints -------------------------------------------------------------------------------


async def log_cp1(uow: Uow, **overrides: object) -> None:
    fields: dict[str, object] = {"category": ComplaintCategory.DELAY, "received_on": date(2013, 10, 4),
                                 "complaint_id": "CP-1", "case_id": "C-1"} | overrides
    await usecases.log_complaint(uow, CTX, DESK, **fields)  # type: ignore[arg-type]


async def test_a_complaint_about_a_case_takes_the_case_service_and_is_due_in_ten_working_days(uow: Uow) -> None:
    await log_cp1(uow)
    [logged] = payloads(uow)
    assert isinstance(logged, ComplaintLogged)
    assert (logged.service, logged.stage, logged.due_on) == (SS, ComplaintStage.STAGE_1, date(2013, 10, 18))
    assert "CP-1" in uow.repository.complaints


async def test_a_complaint_names_a_known_case_or_a_service(uow: Uow) -> None:
    with pytest.raises(InvalidInput) as unknown:
        await log_cp1(uow, case_id="C-UNKNOWN")
    with pytest.raises(InvalidInput) as no_service:
        await log_cp1(uow, case_id=None)
    assert (unknown.value.field, no_service.value.field) == ("case_id", "service")
    assert uow.committed_events == []


async def test_a_complaint_answered_at_stage_one_goes_to_stage_two_and_is_resolved_there(uow: Uow) -> None:
    await log_cp1(uow)
    await usecases.resolve_complaint(
        uow, CTX, DESK, "CP-1", resolved_on=date(2013, 10, 10), outcome=ComplaintOutcome.NOT_UPHELD
    )
    complaint = await usecases.escalate_complaint(uow, CTX, DESK, "CP-1", requested_on=date(2013, 10, 14))
    assert (complaint.current.stage, complaint.current.due_on) == (ComplaintStage.STAGE_2, date(2013, 11, 18))
    await usecases.resolve_complaint(
        uow, CTX, DESK, "CP-1", resolved_on=date(2013, 11, 19), outcome=ComplaintOutcome.UPHELD
    )
    resolved = [p for p in payloads(uow) if isinstance(p, ComplaintResolved)]
    assert [(p.stage, p.within_timescale) for p in resolved] == [
        (ComplaintStage.STAGE_1, True), (ComplaintStage.STAGE_2, False)]


async def test_an_extension_is_stored_without_an_event_and_capped_at_the_maximum(uow: Uow) -> None:
    await log_cp1(uow)
    await usecases.extend_complaint(
        uow, CTX, DESK, "CP-1", extended_on=date(2013, 10, 7), reason=ExtensionReason.COMPLEX_COMPLAINT
    )
    assert uow.repository.complaints["CP-1"].current.working_days == 20
    assert len(uow.committed_events) == 1
    with pytest.raises(InvalidInput) as refused:
        await usecases.extend_complaint(
            uow, CTX, DESK, "CP-1", extended_on=date(2013, 10, 8), reason=ExtensionReason.OTHER, working_days=21
        )
    assert refused.value.field == "working_days"


async def test_an_unknown_complaint_is_not_found(uow: Uow) -> None:
    with pytest.raises(NotFound, match="no complaint CP-9"):
        await usecases.escalate_complaint(uow, CTX, DESK, "CP-9", requested_on=date(2013, 10, 14))


# --- the case systems' events -----------------------------------------------------------------


def case_opened(case_id: str, opened_on: date) -> CaseOpened:
    return CaseOpened(case_id=case_id, service=SS, team_id="T-9", worker_id="W-1", team_manager_id="TM-9",
                      legal_status=LegalStatus.CHILD_PROTECTION, opened_on=opened_on)


async def test_a_case_opened_then_closed_is_known_closed_and_carries_the_event_clock_up_to_today() -> None:
    uow = fake_unit_of_work()
    await usecases.record_case_opened(uow, CTX, case_opened("C-9", date(2013, 4, 2)),
                                      datetime(2013, 4, 2, 9, tzinfo=UTC))
    await usecases.record_case_closed(uow, CTX, CaseClosed(case_id="C-9", closed_on=date(2013, 5, 1)),
                                      datetime(2026, 1, 5, 9, tzinfo=UTC))
    case = uow.repository.cases["C-9"]
    assert (case.service, case.team_manager_id, case.closed_on) == (SS, "TM-9", date(2013, 5, 1))
    assert uow.repository.latest_event_date == TODAY


async def test_a_case_event_dated_after_today_can_never_apply() -> None:
    uow = fake_unit_of_work()
    with pytest.raises(EventFromTheFuture, match="opened_on 2014-04-01 is in the future"):
        await usecases.record_case_opened(uow, CTX, case_opened("C-9", date(2014, 4, 1)),
                                          datetime(2014, 4, 1, 9, tzinfo=UTC))
    assert uow.repository.cases == {} and uow.commits == 0


async def test_a_case_opened_again_after_its_closure_is_open_and_an_update_does_not_reopen_it() -> None:
    uow = fake_unit_of_work()
    await usecases.record_case_closed(uow, CTX, CaseClosed(case_id="C-9", closed_on=date(2013, 5, 1)),
                                      datetime(2013, 5, 1, 9, tzinfo=UTC))
    await usecases.record_case_opened(uow, CTX, case_opened("C-9", date(2013, 6, 3)),
                                      datetime(2013, 6, 3, 9, tzinfo=UTC))
    assert uow.repository.cases["C-9"].closed_on is None
    await usecases.record_case_closed(uow, CTX, CaseClosed(case_id="C-9", closed_on=date(2013, 7, 1)),
                                      datetime(2013, 7, 1, 9, tzinfo=UTC))
    update = CaseUpdated(case_id="C-9", service=Service.CHILDREN_IN_CARE, team_id="T-2", worker_id="W-2",
                         team_manager_id="TM-2", legal_status=LegalStatus.LOOKED_AFTER)
    await usecases.record_case_updated(uow, CTX, update, datetime(2013, 8, 1, 9, tzinfo=UTC))
    case = uow.repository.cases["C-9"]
    assert (case.service, case.closed_on) == (Service.CHILDREN_IN_CARE, date(2013, 7, 1))
