"""The use cases over an in-memory repository and the fake unit of work: what is saved, emitted and refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qaf_shared.clock import FixedClock
from qaf_shared.contracts.allocation import AuditAllocated, AuditReallocated
from qaf_shared.errors import Conflict, Forbidden, Invalid, NotFound
from qaf_shared.unit_of_work import FakeUnitOfWork
from qaf_shared.vocabulary import ConcernReason, Grade, Service

from qaf_audits import usecases
from qaf_audits.domain.audits import AuditStatus
from qaf_audits.domain.templates import TemplateInvalid
from qaf_audits.settings import AuditsSettings
from qaf_audits.usecases import Context, ThemedCase
from tests.unit.audits.fakes import NOW, FakeRepository, audit, light_touch, submission

THEMED = {
    "id": "domestic-violence",
    "kind": "themed",
    "title": "Domestic violence themed audit",
    "review_window_months": 12,
    "domains": [{"id": "risk-assessment", "title": "Risk assessment", "themes": ["safeguarding-risk"]}],
    "questions": [{"id": "dv-father-engaged", "text": "Was the father engaged in the work?", "theme": "fathers"}],
}


def context(*, share: float = 0.0) -> Context:
    return Context(settings=AuditsSettings(moderation_share=share), clock=FixedClock(NOW))


def unit(*audits, **kwargs) -> FakeUnitOfWork[FakeRepository]:
    return FakeUnitOfWork(FakeRepository(*audits, **kwargs))


def event_types(uow: FakeUnitOfWork[FakeRepository]) -> list[str]:
    return [e.event_type for e in uow.committed_events]


async def submit(uow, *, principal: str = "M-1", role: str = "auditor", share: float = 0.0, **grades: str):
    form = submission(light_touch(), grades={d.id: grades.get(d.id, "good") for d in light_touch().domains})
    return await usecases.submit_audit(uow, "A-2013-10-001", form, principal=principal, role=role,
                                       ctx=context(share=share))


# --- Submission --------------------------------------------------------------------------------


async def test_a_submission_completes_the_audit_and_emits_audit_completed() -> None:
    uow = unit(audit())
    result = await submit(uow)
    assert (result.audit_id, result.template.version, result.submission.overall_grade) == ("A-2013-10-001", 1,
                                                                                            Grade.GOOD)
    assert result.concern is None and result.moderation_sampled is False
    assert uow.repository.audits["A-2013-10-001"].status is AuditStatus.COMPLETED
    assert event_types(uow) == ["audit-completed"]
    assert uow.committed_events[0].payload.audit_id == "A-2013-10-001"
    assert uow.committed_events[0].occurred_at == datetime(2013, 10, 18, 15, 0, tzinfo=UTC)


async def test_an_inadequate_grade_raises_a_concern_for_the_team_manager_and_a_full_share_samples_it() -> None:
    uow = unit(audit())
    result = await submit(uow, share=1.0, assessment="inadequate")
    assert event_types(uow) == ["audit-completed", "practice-concern-raised"]
    concern = uow.committed_events[1].payload
    assert (concern.team_manager_id, concern.reason, concern.domains) == (
        "M-TM", ConcernReason.INADEQUATE_GRADE, ["assessment"])
    assert result.concern == concern and concern.concern_id in uow.repository.concerns
    assert result.moderation_sampled and "A-2013-10-001" in uow.repository.moderations


async def test_a_submission_is_refused_for_an_unknown_audit_another_auditor_or_a_second_time() -> None:
    with pytest.raises(NotFound):
        await submit(unit())
    uow = unit(audit())
    with pytest.raises(Forbidden):
        await submit(uow, principal="M-OTHER")
    await submit(uow)
    with pytest.raises(Conflict, match="already been completed"):
        await submit(uow, principal="U-QA", role="qa-admin")
    assert uow.commits == 1 and event_types(uow) == ["audit-completed"]


async def test_an_invalid_submission_saves_and_emits_nothing() -> None:
    uow = unit(audit())
    with pytest.raises(Invalid) as refused:
        await submit(uow, assessment="excellent")
    assert refused.value.errors[0].field == "domains[1].grade"
    assert uow.commits == 0 and uow.committed_events == []
    assert uow.repository.audits["A-2013-10-001"].status is AuditStatus.PENDING


# --- Practice concerns -------------------------------------------------------------------------


async def test_a_concern_is_acknowledged_once_by_the_manager_it_is_addressed_to() -> None:
    uow = unit(audit())
    concern = (await submit(uow, assessment="inadequate")).concern
    assert concern is not None
    concern_id = concern.concern_id
    with pytest.raises(Forbidden):
        await usecases.acknowledge_concern(uow, concern_id, principal="M-1", role="auditor", response="",
                                           ctx=context())
    done = await usecases.acknowledge_concern(uow, concern_id, principal="M-TM", role="lead-auditor",
                                              response="discussed", ctx=context())
    assert (done["acknowledged_by"], done["acknowledged_at"], done["response"]) == ("M-TM", NOW, "discussed")
    with pytest.raises(Conflict, match="already acknowledged"):
        await usecases.acknowledge_concern(uow, concern_id, principal="U-QA", role="qa-admin", response="",
                                           ctx=context())
    with pytest.raises(NotFound):
        await usecases.acknowledge_concern(uow, "PC-none", principal="U-QA", role="qa-admin", response="",
                                           ctx=context())


# --- Overdue -----------------------------------------------------------------------------------


async def test_an_audit_is_flagged_overdue_once_from_the_day_after_it_fell_due() -> None:
    uow = unit(audit(audit_id="A-LATE"), audit(audit_id="A-NOV", due_on=date(2013, 11, 15)))
    assert await usecases.sweep_overdue(uow, date(2013, 10, 31)) == []
    assert await usecases.sweep_overdue(uow, date(2013, 11, 1)) == ["A-LATE"]
    assert await usecases.sweep_overdue(uow, date(2013, 11, 2)) == []
    assert event_types(uow) == ["audit-overdue"]
    assert uow.committed_events[0].occurred_at == datetime(2013, 11, 1, tzinfo=UTC)


async def test_the_background_sweep_waits_for_its_clock_to_know_the_time() -> None:
    uow = unit(audit(audit_id="A-LATE"))
    clock = FixedClock(None)
    assert await usecases.sweep_overdue_today(uow, clock) == [] and uow.commits == 0
    clock.set(date(2013, 11, 1))
    assert await usecases.sweep_overdue_today(uow, clock) == ["A-LATE"]


# --- Allocation from Kafka ---------------------------------------------------------------------


def allocation(audit_id: str = "A-2013-10-001", auditor_id: str = "M-1") -> AuditAllocated:
    return AuditAllocated(
        audit_id=audit_id, case_id="C-1", service=Service.FIRST_RESPONSE, team_id="T-FR-1", auditor_id=auditor_id,
        lead_auditor_id="M-LEAD", team_manager_id="M-TM", month="2013-10", due_on=date(2013, 10, 31),
        draw_id="D-2013-10", explanation="stratum first-response, draw position 1",
    )


async def test_an_allocation_creates_a_pending_audit_pinned_to_the_latest_template_and_moves_event_time() -> None:
    uow = unit(templates=[])  # the shipped templates are stored on the way
    occurred_at = datetime(2013, 10, 1, 9, tzinfo=UTC)
    await usecases.record_allocation(uow, allocation(), occurred_at=occurred_at, correlation_id=None)
    created = uow.repository.audits["A-2013-10-001"]
    assert (created.status, created.template_version, created.allocated_at) == (AuditStatus.PENDING, 1, occurred_at)
    assert await usecases.event_time(uow) == occurred_at


async def test_a_repeated_allocation_refreshes_a_pending_audit_but_not_a_completed_one() -> None:
    uow = unit(audit())
    await usecases.record_allocation(uow, allocation(auditor_id="M-2"), occurred_at=NOW, correlation_id=None)
    assert uow.repository.audits["A-2013-10-001"].auditor_id == "M-2"
    await submit(uow, principal="M-2")
    await usecases.record_allocation(uow, allocation(auditor_id="M-3"), occurred_at=NOW, correlation_id=None)
    assert uow.repository.audits["A-2013-10-001"].auditor_id == "M-2"


async def test_a_reallocation_moves_a_pending_audit_and_an_unknown_one_is_refused() -> None:
    uow = unit(audit())
    moved = AuditReallocated(audit_id="A-2013-10-001", case_id="C-1", service=Service.FIRST_RESPONSE,
                             previous_auditor_id="M-1", auditor_id="M-2", lead_auditor_id="M-LEAD",
                             due_on=date(2013, 11, 8), explanation="auditor unavailable")
    await usecases.record_reallocation(uow, moved, occurred_at=NOW)
    assert uow.repository.reallocations == [("A-2013-10-001", "M-1", "M-2")]
    assert uow.repository.audits["A-2013-10-001"].due_on == date(2013, 11, 8)
    with pytest.raises(NotFound, match="never allocated"):
        await usecases.record_reallocation(uow, moved.model_copy(update={"audit_id": "A-NONE"}), occurred_at=NOW)


# --- Templates and themed audits ---------------------------------------------------------------


async def test_a_themed_template_becomes_its_next_version_and_an_unchanged_one_creates_nothing() -> None:
    uow = unit()
    first, created = await usecases.load_template(uow, THEMED, loaded_by="U-QA")
    assert (first.version, created) == (1, True)
    again, created = await usecases.load_template(uow, THEMED, loaded_by="U-QA")
    assert (again.version, created) == (1, False)
    second, created = await usecases.load_template(uow, THEMED | {"title": "Domestic abuse"}, loaded_by="U-QA")
    assert (second.version, created) == (2, True)
    assert (await usecases.template(uow, "domestic-violence", 1)).title == "Domestic violence themed audit"
    with pytest.raises(NotFound, match="version 3"):
        await usecases.template(uow, "domestic-violence", 3)


async def test_the_light_touch_template_is_not_loaded_over_the_api() -> None:
    with pytest.raises(TemplateInvalid) as refused:
        await usecases.load_template(unit(), dict(light_touch().definition), loaded_by="U-QA")
    assert refused.value.errors[0].field == "kind"


async def test_a_themed_audit_is_allocated_by_case_list_once_per_case() -> None:
    uow = unit()
    await usecases.load_template(uow, THEMED, loaded_by="U-QA")
    case = ThemedCase(case_id="C-DV-1", service=Service.SAFEGUARDING_AND_SUPPORT, team_id="T-SS-2",
                      auditor_id="M-1", team_manager_id="M-TM")

    async def allocate(template_id: str = "domestic-violence", cases=(case,)):
        return await usecases.allocate_themed(uow, template_id=template_id, cases=list(cases),
                                              lead_auditor_id="M-LEAD", due_on=date(2013, 10, 31),
                                              allocated_at=None, month="2013-10", ctx=context())

    [first] = await allocate()
    assert first.created and first.case_id == "C-DV-1"
    assert uow.repository.audits[first.audit_id].allocated_at == NOW
    [again] = await allocate()
    assert again.audit_id == first.audit_id and not again.created
    with pytest.raises(Invalid) as refused:
        await allocate(cases=[ThemedCase(**{**case.__dict__, "auditor_id": "M-TM"})])
    assert refused.value.errors[0].field == "cases[0].auditor_id"
    with pytest.raises(Conflict, match="not a themed template"):
        await allocate("light-touch")
    with pytest.raises(NotFound):
        await allocate("no-such-template")


# --- Moderation --------------------------------------------------------------------------------


async def test_a_sampled_audit_is_moderated_once_by_someone_else() -> None:
    uow = unit(audit())
    await submit(uow, share=1.0, assessment="requires-improvement")
    regrading = [(d.id, "good") for d in light_touch().domains]
    with pytest.raises(Forbidden):
        await usecases.moderate(uow, "A-2013-10-001", regrading, moderator_id="M-1", ctx=context())
    result = await usecases.moderate(uow, "A-2013-10-001", regrading, moderator_id="M-MOD", ctx=context())
    assert (result.domains, result.agreed) == (len(regrading), len(regrading) - 1)
    with pytest.raises(Conflict, match="already been moderated"):
        await usecases.moderate(uow, "A-2013-10-001", regrading, moderator_id="M-MOD", ctx=context())
    report = await usecases.moderation_agreement(uow)
    assert (report.audits, report.overall.compared, report.overall.agreed) == (1, len(regrading), len(regrading) - 1)
    assert report.by_domain["assessment"].moderator_kinder == 1


async def test_an_audit_not_sampled_cannot_be_moderated() -> None:
    uow = unit(audit())
    await submit(uow, share=0.0)
    with pytest.raises(Conflict, match="not sampled"):
        await usecases.moderate(uow, "A-2013-10-001", [], moderator_id="M-MOD", ctx=context())
    with pytest.raises(NotFound):
        await usecases.moderate(uow, "A-NONE", [], moderator_id="M-MOD", ctx=context())
