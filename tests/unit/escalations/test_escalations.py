"""Every stage transition of an escalation, its timescales and its overdue rule."""

from datetime import date

import pytest

from qaf_shared.calendar import WorkingCalendar
from qaf_shared.contracts import EscalationOverdue, EscalationProgressed, EscalationRaised, EscalationResolved
from qaf_shared.vocabulary import EscalationOutcome, EscalationReason, EscalationRole, EscalationStage, Service, Theme

from qaf_escalations.domain.errors import IllegalTransition, InvalidInput
from qaf_escalations.domain.escalations import Escalation, EscalationStatus, EscalationTimescales

CAL = WorkingCalendar()
TS = EscalationTimescales()
S = EscalationStage


def raise_(on: date = date(2013, 10, 3), stage: EscalationStage = S.INFORMAL, ts: EscalationTimescales = TS):
    return Escalation.raise_(
        escalation_id="E-1", case_id="C-1", service=Service.SAFEGUARDING_AND_SUPPORT,
        raised_by_role=EscalationRole.CPA, raised_by_id="CPA-07", reason=EscalationReason.DRIFT_AND_DELAY,
        stage=stage, addressed_to_team_id="T-1", addressed_to_manager_id="M-1", raised_on=on,
        calendar=CAL, timescales=ts,
    )


def progress(e: Escalation, on: date, to: EscalationStage | None = None, manager: str = "M-2"):
    return e.progress(on=on, to_stage=to, addressed_to_manager_id=manager, calendar=CAL, timescales=TS)


def test_raising_emits_escalation_raised_due_in_five_working_days_with_the_reasons_theme() -> None:
    e, out = raise_()
    [event] = out
    assert isinstance(event.payload, EscalationRaised)
    assert event.payload.due_on == date(2013, 10, 10)
    assert event.payload.theme is Theme.TIMELINESS_DRIFT
    assert event.on == date(2013, 10, 3)
    assert e.status is EscalationStatus.OPEN and e.stage is S.INFORMAL


def test_progress_goes_to_the_next_stage_up_the_management_line() -> None:
    e, _ = raise_()
    [event] = progress(e, date(2013, 10, 8))
    assert isinstance(event.payload, EscalationProgressed)
    assert (event.payload.from_stage, event.payload.to_stage) == (S.INFORMAL, S.TEAM_MANAGER)
    assert event.payload.addressed_to_manager_id == "M-2"
    assert event.payload.due_on == date(2013, 10, 15)
    for expected in (S.SERVICE_MANAGER, S.HEAD_OF_SERVICE, S.DIRECTOR):
        progress(e, date(2013, 10, 9))
        assert e.stage is expected


def test_progress_may_skip_forward_to_a_named_stage() -> None:
    e, _ = raise_()
    progress(e, date(2013, 10, 4), to=S.HEAD_OF_SERVICE)
    assert e.stage is S.HEAD_OF_SERVICE


@pytest.mark.parametrize("to", [S.INFORMAL, S.TEAM_MANAGER])
def test_progress_backwards_or_to_the_same_stage_is_refused(to: EscalationStage) -> None:
    e, _ = raise_()
    progress(e, date(2013, 10, 4))
    with pytest.raises(IllegalTransition, match="only move up the management line"):
        progress(e, date(2013, 10, 5), to=to)


def test_progress_beyond_the_director_is_refused() -> None:
    e, _ = raise_(stage=S.DIRECTOR)
    with pytest.raises(IllegalTransition, match="last stage"):
        progress(e, date(2013, 10, 4))


def test_the_whole_formal_process_is_due_within_twenty_working_days() -> None:
    e, _ = raise_(on=date(2013, 10, 1), stage=S.TEAM_MANAGER)  # formal process due 29 Oct
    assert e.current.due_on == date(2013, 10, 8)
    progress(e, date(2013, 10, 8))
    progress(e, date(2013, 10, 22))  # head of service: 5 wd would be 29 Oct
    assert e.current.due_on == date(2013, 10, 29)
    progress(e, date(2013, 10, 25))  # director: capped at 29 Oct, the end of the formal process
    assert e.current.due_on == date(2013, 10, 29)


def test_timescales_are_configurable() -> None:
    ts = EscalationTimescales(stage_days={s: 2 for s in S}, formal_total_days=3)
    e, _ = raise_(on=date(2013, 10, 1), stage=S.TEAM_MANAGER, ts=ts)
    assert e.current.due_on == date(2013, 10, 3)
    e.progress(on=date(2013, 10, 3), to_stage=None, addressed_to_manager_id="M-3", calendar=CAL, timescales=ts)
    assert e.current.due_on == date(2013, 10, 4)


@pytest.mark.parametrize("outcome", [EscalationOutcome.RESOLVED, EscalationOutcome.PLAN_CHANGED, EscalationOutcome.REFERRED_ON])
def test_resolve_closes_with_its_outcome_and_timeliness(outcome: EscalationOutcome) -> None:
    e, _ = raise_()
    [event] = e.resolve(on=date(2013, 10, 10), outcome=outcome)
    assert isinstance(event.payload, EscalationResolved)
    assert event.payload.outcome is outcome and event.payload.within_timescale
    assert e.status is EscalationStatus.RESOLVED


def test_resolving_a_resolved_escalation_is_refused_saying_why() -> None:
    e, _ = raise_()
    e.resolve(on=date(2013, 10, 4), outcome=EscalationOutcome.RESOLVED)
    with pytest.raises(IllegalTransition, match="already resolved"):
        e.resolve(on=date(2013, 10, 5), outcome=EscalationOutcome.RESOLVED)
    with pytest.raises(IllegalTransition, match="cannot progress"):
        progress(e, date(2013, 10, 5))
    with pytest.raises(IllegalTransition, match="cannot withdraw"):
        e.withdraw(on=date(2013, 10, 5))


def test_withdraw_closes_with_the_withdrawn_outcome_and_nothing_follows() -> None:
    e, _ = raise_()
    [event] = e.withdraw(on=date(2013, 10, 4))
    assert event.payload.outcome is EscalationOutcome.WITHDRAWN
    assert e.status is EscalationStatus.WITHDRAWN
    with pytest.raises(IllegalTransition, match="already withdrawn"):
        e.resolve(on=date(2013, 10, 5), outcome=EscalationOutcome.RESOLVED)


def test_withdrawn_is_not_a_resolution_outcome() -> None:
    e, _ = raise_()
    with pytest.raises(InvalidInput) as refused:
        e.resolve(on=date(2013, 10, 4), outcome=EscalationOutcome.WITHDRAWN)
    assert refused.value.field == "outcome"


def test_dates_before_the_stage_started_are_refused_naming_the_field() -> None:
    e, _ = raise_()
    with pytest.raises(InvalidInput) as refused:
        progress(e, date(2013, 10, 2))
    assert refused.value.field == "progressed_on"
    with pytest.raises(InvalidInput) as refused:
        e.resolve(on=date(2013, 10, 1), outcome=EscalationOutcome.RESOLVED)
    assert refused.value.field == "resolved_on"


def test_overdue_once_per_stage_when_the_due_date_passes_unanswered() -> None:
    e, _ = raise_()  # due 10 Oct
    assert e.overdue_as_of(date(2013, 10, 10)) == []
    [event] = e.overdue_as_of(date(2013, 10, 11))
    assert isinstance(event.payload, EscalationOverdue)
    assert (event.payload.stage, event.payload.due_on, event.on) == (S.INFORMAL, date(2013, 10, 10), date(2013, 10, 11))
    assert e.overdue_as_of(date(2013, 10, 30)) == []
    progress(e, date(2013, 10, 14))  # due 21 Oct at team manager stage; no second overdue for informal
    [event] = e.overdue_as_of(date(2013, 10, 22))
    assert event.payload.stage is S.TEAM_MANAGER


def test_a_late_move_before_any_sweep_still_reports_the_stage_overdue_first() -> None:
    e, _ = raise_()
    out = progress(e, date(2013, 10, 14))
    assert [type(x.payload) for x in out] == [EscalationOverdue, EscalationProgressed]
    out = e.resolve(on=date(2013, 10, 28), outcome=EscalationOutcome.RESOLVED)
    assert [type(x.payload) for x in out] == [EscalationOverdue, EscalationResolved]
    assert out[1].payload.within_timescale is False


def test_a_closed_escalation_is_never_overdue() -> None:
    e, _ = raise_()
    e.withdraw(on=date(2013, 10, 4))
    assert e.overdue_as_of(date(2014, 1, 1)) == []
