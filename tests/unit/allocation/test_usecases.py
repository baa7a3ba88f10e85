"""The use cases over the in-memory unit of work: what they store, what they emit, what they refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qaf_shared.clock import FixedClock
from qaf_shared.contracts import AuditAllocated, AuditReallocated
from qaf_shared.unit_of_work import FakeUnitOfWork
from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation import usecases
from qaf_allocation.domain.model import Absence, CaseDetails, IllegalChange, InvalidInput, UnknownEntity
from qaf_allocation.settings import AllocationSettings
from qaf_allocation.usecases import RunRequest
from tests.unit.allocation.fakes import FakeRepository, auditor, case

FR = Service.FIRST_RESPONSE
TODAY = date(2014, 3, 31)
DETAILS = CaseDetails(FR, "T-1", "W-1", "M-X", LegalStatus.CHILD_IN_NEED)
AT = datetime(2013, 6, 1, 9, tzinfo=UTC)


def context(sample_size: int = 3, today: date = TODAY) -> usecases.Context:
    return usecases.Context(AllocationSettings(sample_size=sample_size), FixedClock(today))


def first_response(cases: int = 6) -> FakeRepository:
    """`cases` open first-response cases on team T-1, a lead and two auditors with room for all of them."""
    return FakeRepository(
        cases=[case(f"C-{i}", opened=date(2013, 5, 1)) for i in range(cases)],
        roster=[auditor("L-FR", lead=True, capacity=2), auditor("A-1", capacity=2), auditor("A-2", capacity=2)])


def october(**overrides: object) -> RunRequest:
    fields: dict[str, object] = {"month": "2013-10", "as_of": date(2013, 10, 1), "requested_by": "U-QA-01",
                                 "trigger": "api", "seed": 7}
    return RunRequest(**{**fields, **overrides})  # type: ignore[arg-type]


def allocated(uow: FakeUnitOfWork[FakeRepository]) -> list[AuditAllocated]:
    return [e.payload for e in uow.committed_events if isinstance(e.payload, AuditAllocated)]


# ------------------------------------------------------------------ the case population


async def test_a_case_opened_is_stored_and_a_stale_update_leaves_it_alone() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    await usecases.record_case_opened(uow, "C-1", DETAILS, date(2013, 5, 1), AT)
    assert uow.repository.cases["C-1"].team_id == "T-1"
    older = CaseDetails(Service.CHILDREN_IN_CARE, "T-9", "W-9", "M-9", LegalStatus.LOOKED_AFTER)
    change = await usecases.record_case_updated(uow, "C-1", older, datetime(2013, 5, 1, tzinfo=UTC))
    assert not change.applied
    assert uow.repository.cases["C-1"].service == FR


async def test_a_closure_for_a_case_never_opened_is_refused_and_nothing_is_stored() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    with pytest.raises(UnknownEntity, match="case-closed for unknown case C-404"):
        await usecases.record_case_closed(uow, "C-404", date(2013, 9, 1), AT)
    assert uow.repository.cases == {} and uow.commits == 0


async def test_a_completion_without_a_month_counts_in_the_month_it_was_completed() -> None:
    uow = FakeUnitOfWork(FakeRepository())
    await usecases.record_completion(uow, audit_id="A-1", case_id="C-1", service=FR, auditor_id="M-1", month=None,
                                     completed_at=datetime(2013, 11, 5, 15, tzinfo=UTC))
    assert uow.repository.completions["A-1"].month == "2013-11"


# ------------------------------------------------------------------ the monthly run


async def test_a_run_draws_the_sample_once_and_emits_one_allocation_per_audit() -> None:
    uow = FakeUnitOfWork(first_response(cases=6))
    outcome = await usecases.run_month(uow, context(sample_size=3), october())
    assert outcome == usecases.RunOutcome("D-2013-10", True)
    events = allocated(uow)
    assert len(events) == 3 and len({p.case_id for p in events}) == 3
    assert {p.case_id for p in events} <= {f"C-{i}" for i in range(6)}
    assert all(p.draw_id == "D-2013-10" and p.lead_auditor_id == "L-FR" for p in events)
    assert all(e.occurred_at == datetime(2013, 10, 1, tzinfo=UTC) for e in uow.committed_events)

    again = await usecases.run_month(uow, context(sample_size=3), october(seed=None))
    assert again == usecases.RunOutcome("D-2013-10", False)
    assert len(uow.committed_events) == 3  # nothing new


@pytest.mark.parametrize(("request_", "field", "message"), [
    (october(as_of=date(2014, 4, 1), month="2014-04"), "as_of",
     "as_of 2014-04-01 is in the future (today is 2014-03-31)"),
    (october(as_of=date(2013, 11, 1)), "as_of", "as_of 2013-11-01 is not in month 2013-10"),
    (october(month="2013-13"), "month", "month '2013-13' must look like YYYY-MM"),
    (october(seed=-1), "seed", "seed must be between 0 and 2^63-1"),
])
async def test_a_run_with_bad_input_is_refused_naming_the_field(request_: RunRequest, field: str,
                                                                message: str) -> None:
    uow = FakeUnitOfWork(first_response())
    with pytest.raises(InvalidInput) as refused:
        await usecases.run_month(uow, context(), request_)
    assert refused.value.field == field and str(refused.value) == message
    assert uow.repository.draws == {} and uow.committed_events == []


async def test_a_redraw_supersedes_the_draw_and_withdraws_its_audits() -> None:
    uow = FakeUnitOfWork(first_response())
    await usecases.run_month(uow, context(), october())
    first_audits = set(uow.repository.allocations)
    outcome = await usecases.run_month(uow, context(), october(redraw=True))
    assert outcome == usecases.RunOutcome("D-2013-10-r1", True)
    assert uow.repository.draws["D-2013-10"].superseded_by == "D-2013-10-r1"
    assert all(uow.repository.allocations[a].withdrawn for a in first_audits)
    assert {p.audit_id for p in allocated(uow)[3:]} == {f"A-2013-10-r1-{n:03d}" for n in (1, 2, 3)}


async def test_a_month_with_completed_audits_cannot_be_redrawn() -> None:
    uow = FakeUnitOfWork(first_response())
    await usecases.run_month(uow, context(), october())
    done = sorted(uow.repository.allocations)[0]
    await usecases.record_completion(uow, audit_id=done, case_id="C-0", service=FR, auditor_id="A-1",
                                     month="2013-10", completed_at=datetime(2013, 10, 20, tzinfo=UTC))
    with pytest.raises(IllegalChange, match=rf"1 of its audits are already completed \({done}\)"):
        await usecases.run_month(uow, context(), october(redraw=True))
    assert list(uow.repository.draws) == ["D-2013-10"]


async def test_an_undrawn_month_is_not_found() -> None:
    with pytest.raises(UnknownEntity, match="month 2013-10 has not been drawn"):
        await usecases.drawn_month(FakeUnitOfWork(FakeRepository()), "2013-10")


async def test_the_scheduler_draws_on_the_first_working_day_once() -> None:
    uow = FakeUnitOfWork(first_response())
    assert await usecases.scheduled_run(uow, context(today=date(2014, 1, 1))) is None  # New Year's Day
    assert await usecases.scheduled_run(uow, context(today=date(2014, 1, 2))) == "D-2014-01"
    stored = uow.repository.draws["D-2014-01"]
    assert stored.result.as_of == date(2014, 1, 2) and stored.trigger == "scheduler"
    assert await usecases.scheduled_run(uow, context(today=date(2014, 1, 3))) is None


# ------------------------------------------------------------------ the roster


async def test_a_new_auditor_is_created_and_a_second_lead_is_refused() -> None:
    uow = FakeUnitOfWork(first_response())
    outcome = await usecases.put_auditor(uow, context(), auditor("A-3", Service.CHILDREN_IN_CARE, capacity=4))
    assert outcome.created and uow.repository.auditors["A-3"].capacity == 4
    with pytest.raises(IllegalChange, match="first-response already has lead auditor L-FR; X-4 cannot"):
        await usecases.put_auditor(uow, context(), auditor("X-4", lead=True))
    assert uow.commits == 1


async def test_an_absence_moves_the_auditors_open_audits_to_others() -> None:
    uow = FakeUnitOfWork(first_response(cases=3))
    await usecases.run_month(uow, context(), october())
    held = {k for k, h in uow.repository.allocations.items() if h.auditor_id == "A-1"}
    assert held  # share the three audits
    outcome = await usecases.add_absence(uow, "A-1", Absence(date(2013, 10, 14), date(2013, 11, 8)))
    assert {m.audit_id for m in outcome.moves} == held and outcome.stuck == []
    assert all(uow.repository.allocations[k].auditor_id != "A-1" for k in held)
    moved = [e.payload for e in uow.committed_events if isinstance(e.payload, AuditReallocated)]
    assert {p.audit_id for p in moved} == held and all(p.previous_auditor_id == "A-1" for p in moved)
    assert uow.repository.auditors["A-1"].absences == (Absence(date(2013, 10, 14), date(2013, 11, 8)),)


async def test_an_unknown_auditor_is_not_found() -> None:
    uow = FakeUnitOfWork(first_response())
    with pytest.raises(UnknownEntity, match="auditor NOBODY is not on the roster"):
        await usecases.get_auditor(uow, "NOBODY")
    with pytest.raises(UnknownEntity):
        await usecases.deactivate(uow, context(), "NOBODY")


async def test_leaving_the_roster_keeps_the_auditor_inactive_and_no_longer_lead() -> None:
    uow = FakeUnitOfWork(first_response())
    outcome = await usecases.deactivate(uow, context(), "L-FR", date(2013, 10, 20))
    assert uow.repository.auditors["L-FR"] == auditor("L-FR", capacity=2, active=False)
    assert outcome.moves == [] and outcome.stuck == []


async def test_the_lead_moves_to_an_auditor_of_the_same_service_only() -> None:
    uow = FakeUnitOfWork(FakeRepository(roster=[auditor("L-FR", lead=True), auditor("A-1"),
                                                auditor("C-1", Service.CHILDREN_IN_CARE)]))
    with pytest.raises(InvalidInput, match="lead auditor M-NOBODY is not on the roster"):
        await usecases.set_lead(uow, FR, "M-NOBODY")
    with pytest.raises(InvalidInput, match="auditor C-1 belongs to children-in-care, not first-response"):
        await usecases.set_lead(uow, FR, "C-1")
    assert (await usecases.set_lead(uow, FR, "A-1")).is_lead
    assert {a.auditor_id for a in uow.repository.auditors.values() if a.is_lead} == {"A-1"}


async def test_a_roster_import_is_all_or_nothing() -> None:
    uow = FakeUnitOfWork(FakeRepository(roster=[auditor("L-FR", lead=True)]))
    outcomes = await usecases.import_roster(uow, context(), [auditor("A-1"), auditor("A-2")])
    assert [o.created for o in outcomes] == [True, True] and uow.commits == 1
    with pytest.raises(IllegalChange):
        await usecases.import_roster(uow, context(), [auditor("A-3"), auditor("A-4", lead=True)])
    assert uow.commits == 1  # the second import was not committed


# ------------------------------------------------------------------ the yearly target and the population


async def test_the_target_counts_the_years_allocations_and_completions() -> None:
    uow = FakeUnitOfWork(first_response())
    await usecases.run_month(uow, context(), october())
    await usecases.record_completion(uow, audit_id="X-1", case_id="C-0", service=FR, auditor_id="A-1",
                                     month="2014-03", completed_at=datetime(2014, 3, 3, tzinfo=UTC))
    target = await usecases.target(uow, context(), 2013)
    assert (target.year, target.first_month, target.last_month) == ("2013-14", "2013-04", "2014-03")
    assert target.allocated_total == 3 and target.completed_total == 1 and target.months_drawn == 1


async def test_the_population_counts_cases_open_in_the_window_by_service() -> None:
    uow = FakeUnitOfWork(FakeRepository(cases=[
        case("C-1", opened=date(2013, 5, 1)), case("C-2", Service.CHILDREN_IN_CARE, opened=date(2013, 9, 1)),
        case("C-3", opened=date(2012, 1, 1), closed=date(2013, 3, 1))]))
    population = await usecases.population(uow, context(), date(2013, 10, 1))
    assert population.cases_known == 3 and population.window_start == date(2013, 4, 1)
    assert population.open_by_service[FR] == 1 and population.open_by_service[Service.CHILDREN_IN_CARE] == 1
    assert population.due_on == date(2013, 10, 31)
