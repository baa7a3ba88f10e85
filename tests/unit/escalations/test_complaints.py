"""The three-stage complaints procedure: timescales, extensions, escalation, resolution."""

from datetime import date

import pytest

from qaf_shared.calendar import WorkingCalendar
from qaf_shared.contracts import ComplaintLogged, ComplaintResolved
from qaf_shared.vocabulary import ComplaintCategory, ComplaintOutcome, ComplaintStage, Service, Theme

from qaf_escalations.domain.complaints import Complaint, ComplaintStatus, ComplaintTimescales, ExtensionReason
from qaf_escalations.domain.errors import IllegalTransition, InvalidInput

CAL = WorkingCalendar()
TS = ComplaintTimescales()


def log(on: date = date(2013, 10, 2), category: ComplaintCategory = ComplaintCategory.COMMUNICATION):
    return Complaint.log(complaint_id="CP-1", case_id="C-1", service=Service.CHILDREN_IN_CARE, category=category,
                         received_on=on, calendar=CAL, timescales=TS)


def extend(c: Complaint, on: date, days: int | None = None):
    return c.extend(on=on, working_days=days, reason=ExtensionReason.COMPLEX_COMPLAINT, calendar=CAL, timescales=TS)


def test_a_complaint_about_communication_counts_for_responsiveness_to_families() -> None:
    c, [event] = log()
    assert isinstance(event.payload, ComplaintLogged)
    assert event.payload.theme is Theme.RESPONSIVENESS_TO_FAMILIES
    assert (event.payload.stage, event.payload.due_on) == (ComplaintStage.STAGE_1, date(2013, 10, 16))


def test_stage_one_extends_to_twenty_working_days_with_a_reason_code() -> None:
    c, _ = log()
    extension = extend(c, date(2013, 10, 15))
    assert (extension.from_working_days, extension.to_working_days) == (10, 20)
    assert extension.reason is ExtensionReason.COMPLEX_COMPLAINT
    assert c.current.due_on == date(2013, 10, 30)


def test_an_extension_can_be_partial_then_taken_to_the_maximum_but_not_beyond() -> None:
    c, _ = log()
    extend(c, date(2013, 10, 3), 15)
    extend(c, date(2013, 10, 4), 20)
    with pytest.raises(InvalidInput) as refused:
        extend(c, date(2013, 10, 5), 21)
    assert refused.value.field == "working_days"


def test_an_extension_after_the_timescale_ran_out_is_refused() -> None:
    c, _ = log()
    with pytest.raises(IllegalTransition, match="ran out on 2013-10-16"):
        extend(c, date(2013, 10, 17))


def test_resolving_within_the_extended_timescale_is_on_time() -> None:
    c, _ = log()
    extend(c, date(2013, 10, 15))
    [event] = c.resolve(on=date(2013, 10, 25), outcome=ComplaintOutcome.PARTLY_UPHELD)
    assert isinstance(event.payload, ComplaintResolved)
    assert event.payload.within_timescale is True
    assert c.status is ComplaintStatus.ANSWERED


def test_resolving_late_is_recorded_as_not_within_timescale() -> None:
    c, _ = log()
    [event] = c.resolve(on=date(2013, 10, 17), outcome=ComplaintOutcome.NOT_UPHELD)
    assert event.payload.within_timescale is False


def test_an_answered_stage_cannot_be_resolved_again() -> None:
    c, _ = log()
    c.resolve(on=date(2013, 10, 10), outcome=ComplaintOutcome.UPHELD)
    with pytest.raises(IllegalTransition, match="already answered"):
        c.resolve(on=date(2013, 10, 11), outcome=ComplaintOutcome.UPHELD)
    with pytest.raises(IllegalTransition, match="already answered"):
        extend(c, date(2013, 10, 11))


def test_escalating_an_answered_stage_logs_the_next_stage_with_its_own_timescale() -> None:
    c, _ = log()
    c.resolve(on=date(2013, 10, 10), outcome=ComplaintOutcome.NOT_UPHELD)
    [event] = c.escalate(on=date(2013, 10, 21), calendar=CAL, timescales=TS)
    assert isinstance(event.payload, ComplaintLogged)
    assert event.payload.stage is ComplaintStage.STAGE_2
    assert event.payload.received_on == date(2013, 10, 21)
    assert event.payload.due_on == CAL.add_working_days(date(2013, 10, 21), 25)
    assert c.status is ComplaintStatus.OPEN
    extend(c, date(2013, 10, 22))
    assert c.current.working_days == 65


def test_an_open_stage_may_be_escalated_only_once_its_timescale_has_passed() -> None:
    c, _ = log()
    with pytest.raises(IllegalTransition, match="still within the timescale"):
        c.escalate(on=date(2013, 10, 16), calendar=CAL, timescales=TS)
    c.escalate(on=date(2013, 10, 17), calendar=CAL, timescales=TS)
    assert c.stages[0].escalated_on == date(2013, 10, 17)
    assert c.stages[0].resolved_on is None


def test_stage_three_is_the_review_panel_30_working_days_not_extendable_and_the_last() -> None:
    c, _ = log()
    c.resolve(on=date(2013, 10, 10), outcome=ComplaintOutcome.NOT_UPHELD)
    c.escalate(on=date(2013, 10, 11), calendar=CAL, timescales=TS)
    c.resolve(on=date(2013, 11, 1), outcome=ComplaintOutcome.NOT_UPHELD)
    [event] = c.escalate(on=date(2013, 11, 4), calendar=CAL, timescales=TS)
    assert event.payload.stage is ComplaintStage.STAGE_3
    assert event.payload.due_on == CAL.add_working_days(date(2013, 11, 4), 30)
    with pytest.raises(IllegalTransition, match="cannot be extended"):
        extend(c, date(2013, 11, 5))
    c.resolve(on=date(2013, 12, 2), outcome=ComplaintOutcome.PARTLY_UPHELD)
    with pytest.raises(IllegalTransition, match="last stage"):
        c.escalate(on=date(2013, 12, 3), calendar=CAL, timescales=TS)


def test_a_withdrawn_complaint_goes_no_further() -> None:
    c, _ = log()
    [event] = c.resolve(on=date(2013, 10, 4), outcome=ComplaintOutcome.WITHDRAWN)
    assert event.payload.outcome is ComplaintOutcome.WITHDRAWN
    assert c.status is ComplaintStatus.WITHDRAWN
    with pytest.raises(IllegalTransition, match="withdrawn"):
        c.escalate(on=date(2013, 10, 30), calendar=CAL, timescales=TS)


def test_dates_before_the_stage_are_refused_naming_the_field() -> None:
    c, _ = log()
    with pytest.raises(InvalidInput) as refused:
        c.resolve(on=date(2013, 10, 1), outcome=ComplaintOutcome.UPHELD)
    assert refused.value.field == "resolved_on"
    c.resolve(on=date(2013, 10, 10), outcome=ComplaintOutcome.UPHELD)
    with pytest.raises(InvalidInput) as refused:
        c.escalate(on=date(2013, 10, 9), calendar=CAL, timescales=TS)
    assert refused.value.field == "requested_on"
