"""Themes, permissions and the timeliness report."""

from datetime import date

import pytest

from qaf_shared.calendar import WorkingCalendar
from qaf_shared.vocabulary import (
    ComplaintCategory, ComplaintOutcome, ComplaintStage, EscalationReason, EscalationRole, EscalationStage, Service,
    Theme,
)

from qaf_escalations.domain.complaints import StageRecord
from qaf_escalations.domain.errors import InvalidInput, NotAllowed
from qaf_escalations.domain.escalations import Escalation, EscalationTimescales
from qaf_escalations.domain.permissions import Actor, check_may_act, raiser
from qaf_escalations.domain.themes import COMPLAINT_CATEGORY_THEMES, ESCALATION_REASON_THEMES
from qaf_escalations.domain.escalations import Step
from qaf_escalations.domain.timeliness import escalation_timeliness, timeliness


def test_every_reason_and_category_maps_to_a_theme() -> None:
    assert set(ESCALATION_REASON_THEMES) == set(EscalationReason)
    assert set(COMPLAINT_CATEGORY_THEMES) == set(ComplaintCategory)
    assert COMPLAINT_CATEGORY_THEMES[ComplaintCategory.COMMUNICATION] is Theme.RESPONSIVENESS_TO_FAMILIES
    assert COMPLAINT_CATEGORY_THEMES[ComplaintCategory.DELAY] is Theme.TIMELINESS_DRIFT
    assert ESCALATION_REASON_THEMES[EscalationReason.STRATEGY_MEETING_NOT_HELD] is Theme.STRATEGY_MEETINGS


def test_a_cpa_raises_in_its_own_name_only() -> None:
    assert raiser(Actor("cpa", "CPA-07"), None, None) == (EscalationRole.CPA, "CPA-07")
    with pytest.raises(NotAllowed) as refused:
        raiser(Actor("cpa", "CPA-07"), EscalationRole.IRO, None)
    assert refused.value.field == "raised_by_role"
    with pytest.raises(NotAllowed) as refused:
        raiser(Actor("iro", "IRO-1"), None, "IRO-2")
    assert refused.value.field == "raised_by_id"
    with pytest.raises(NotAllowed):
        raiser(Actor("complaints", "DESK"), EscalationRole.CPA, "CPA-1")


def test_qa_admin_records_an_escalation_naming_who_raised_it() -> None:
    assert raiser(Actor("qa-admin", "QA"), EscalationRole.IRO, "IRO-3") == (EscalationRole.IRO, "IRO-3")
    with pytest.raises(InvalidInput) as refused:
        raiser(Actor("qa-admin", "QA"), None, "IRO-3")
    assert refused.value.field == "raised_by_role"


def _escalation() -> Escalation:
    e, _ = Escalation.raise_(
        escalation_id="E-1", case_id="C-1", service=Service.FIRST_RESPONSE, raised_by_role=EscalationRole.IRO,
        raised_by_id="IRO-1", reason=EscalationReason.OTHER, stage=EscalationStage.INFORMAL,
        addressed_to_team_id="T-1", addressed_to_manager_id="M-1", raised_on=date(2013, 10, 1),
        calendar=WorkingCalendar(), timescales=EscalationTimescales(),
    )
    return e


@pytest.mark.parametrize(
    ("actor", "action", "allowed"),
    [
        (Actor("iro", "IRO-1"), "progress", True),
        (Actor("iro", "IRO-2"), "progress", False),
        (Actor("cpa", "IRO-1"), "progress", False),
        (Actor("qa-admin", "QA"), "withdraw", True),
        (Actor("case-system", "M-1"), "resolve", True),
        (Actor("case-system", "T-1"), "resolve", True),
        (Actor("case-system", "T-9"), "resolve", False),
        (Actor("case-system", "M-1"), "progress", False),
        (Actor("reporting", "R"), "resolve", False),
    ],
)
def test_who_may_progress_resolve_and_withdraw(actor: Actor, action: str, allowed: bool) -> None:
    if allowed:
        check_may_act(actor, _escalation(), action)
    else:
        with pytest.raises(NotAllowed):
            check_may_act(actor, _escalation(), action)


def test_timeliness_counts_by_stage_and_service() -> None:
    s1 = ComplaintStage.STAGE_1
    due = date(2013, 10, 16)
    records = [
        (Service.CHILDREN_IN_CARE, StageRecord(s1, date(2013, 10, 2), 10, due, resolved_on=date(2013, 10, 10),
                                               outcome=ComplaintOutcome.UPHELD, within_timescale=True)),
        (Service.CHILDREN_IN_CARE, StageRecord(s1, date(2013, 10, 2), 10, due, resolved_on=date(2013, 10, 20),
                                               outcome=ComplaintOutcome.WITHDRAWN, within_timescale=False)),
        (Service.CHILDREN_IN_CARE, StageRecord(s1, date(2013, 10, 2), 10, due)),
        (Service.CHILDREN_IN_CARE, StageRecord(s1, date(2013, 10, 2), 10, due, escalated_on=date(2013, 10, 17))),
        (Service.FIRST_RESPONSE, StageRecord(ComplaintStage.STAGE_2, date(2013, 10, 2), 25, date(2013, 11, 6))),
    ]
    rows = timeliness(records, as_of=date(2013, 10, 31))
    assert [(r.stage, r.service) for r in rows] == [(s1, Service.CHILDREN_IN_CARE),
                                                    (ComplaintStage.STAGE_2, Service.FIRST_RESPONSE)]
    cic = rows[0].as_dict()
    assert cic["received"] == 4 and cic["answered"] == 2 and cic["answered_within_timescale"] == 1
    assert cic["answered_late"] == 1 and cic["withdrawn"] == 1 and cic["escalated_unanswered"] == 1
    assert cic["open"] == 1 and cic["open_overdue"] == 1 and cic["percent_within_timescale"] == 50.0
    assert rows[1].open == 1 and rows[1].open_overdue == 0


def test_escalation_timeliness_counts_stages_answered_within_their_due_date() -> None:
    tm, informal = EscalationStage.TEAM_MANAGER, EscalationStage.INFORMAL
    fr = Service.FIRST_RESPONSE
    steps = [
        (fr, Step(informal, date(2013, 10, 1), date(2013, 10, 8), "M-1", date(2013, 10, 8), "progressed"), False),
        (fr, Step(informal, date(2013, 10, 1), date(2013, 10, 8), "M-1", date(2013, 10, 9), "resolved"), True),
        (fr, Step(tm, date(2013, 10, 8), date(2013, 10, 15), "M-2"), True),
        (fr, Step(tm, date(2013, 10, 8), date(2013, 10, 15), "M-2"), False),
    ]
    early = escalation_timeliness(steps, as_of=date(2013, 10, 15))
    rows = {r.stage: r for r in early}
    assert (rows[informal].answered, rows[informal].answered_within_timescale, rows[informal].answered_late) == (1 + 1, 1, 1)
    assert rows[informal].reported_overdue == 1 and rows[informal].percent_within_timescale == 50.0
    assert (rows[tm].open, rows[tm].open_overdue, rows[tm].reported_overdue) == (2, 0, 1)
    late = {r.stage: r for r in escalation_timeliness(steps, as_of=date(2013, 10, 16))}
    assert late[tm].open_overdue == 2
