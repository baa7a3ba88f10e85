"""The case population (latest by event time wins) and roster rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.domain.model import (
    Absence,
    CaseDetails,
    IllegalChange,
    InvalidInput,
    UnknownEntity,
    check_roster,
    close_case,
    open_case,
    update_case,
)
from tests.unit.allocation.fakes import auditor, case

AT = datetime(2013, 6, 1, 9, tzinfo=UTC)
FR = CaseDetails(Service.FIRST_RESPONSE, "T-FR-1", "W-1", "M-1", LegalStatus.ASSESSMENT)
SS = CaseDetails(Service.SAFEGUARDING_AND_SUPPORT, "T-SS-2", "W-2", "M-2", LegalStatus.CHILD_PROTECTION)
CIC = CaseDetails(Service.CHILDREN_IN_CARE, "T-CIC-1", "W-3", "M-3", LegalStatus.LOOKED_AFTER)


def hours(n: int) -> datetime:
    return AT + timedelta(hours=n)


def test_an_update_replaces_the_details_and_a_late_older_update_is_ignored() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 6, 1), AT).case
    moved = update_case(opened, "C-1", CIC, hours(5))
    assert moved.applied and moved.case.service == Service.CHILDREN_IN_CARE
    late = update_case(moved.case, "C-1", SS, hours(2))  # happened before the transfer, arrived after
    assert not late.applied
    assert late.case == moved.case


def test_a_duplicate_event_changes_nothing() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 6, 1), AT).case
    once = update_case(opened, "C-1", SS, hours(1)).case
    assert update_case(once, "C-1", SS, hours(1)).case == once


def test_a_closure_followed_by_a_late_older_closure_keeps_the_latest() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 6, 1), AT).case
    closed = close_case(opened, "C-1", date(2013, 9, 30), hours(10)).case
    assert closed.closed_on == date(2013, 9, 30)
    older = close_case(closed, "C-1", date(2013, 8, 1), hours(3))
    assert not older.applied and older.case.closed_on == date(2013, 9, 30)


def test_a_later_opening_reopens_a_closed_case_but_a_late_older_one_does_not() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 1, 1), AT).case
    closed = close_case(opened, "C-1", date(2013, 3, 1), hours(10)).case
    stale = open_case(closed, "C-1", FR, date(2013, 1, 1), hours(1))
    assert stale.case.closed_on == date(2013, 3, 1)
    reopened = open_case(closed, "C-1", SS, date(2013, 7, 1), hours(20)).case
    assert reopened.closed_on is None and reopened.opened_on == date(2013, 7, 1)
    assert reopened.service == Service.SAFEGUARDING_AND_SUPPORT


def test_a_closure_older_than_a_reopening_is_ignored() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 1, 1), hours(10)).case
    assert not close_case(opened, "C-1", date(2013, 3, 1), hours(5)).applied


def test_events_for_an_unknown_case_are_refused_naming_the_case() -> None:
    with pytest.raises(UnknownEntity, match="case-updated for unknown case C-404"):
        update_case(None, "C-404", FR, AT)
    with pytest.raises(UnknownEntity, match="case-closed for unknown case C-404"):
        close_case(None, "C-404", date(2013, 1, 1), AT)


def test_a_closure_before_the_opening_is_refused() -> None:
    opened = open_case(None, "C-1", FR, date(2013, 6, 1), AT).case
    with pytest.raises(InvalidInput, match="closed_on 2013-05-01 is before its opened_on 2013-06-01"):
        close_case(opened, "C-1", date(2013, 5, 1), hours(1))


def test_open_during_a_window() -> None:
    c = case("C-1", opened=date(2013, 2, 1), closed=date(2013, 4, 30))
    assert c.open_during(date(2013, 4, 1), date(2013, 10, 1))
    assert not c.open_during(date(2013, 5, 1), date(2013, 10, 1))
    assert not case("C-2", opened=date(2013, 11, 1)).open_during(date(2013, 4, 1), date(2013, 10, 1))


def test_conflicts_name_why_an_auditor_may_not_audit_a_case() -> None:
    held = case("C-1", team="T-1", worker="W-9", manager="M-9")
    assert auditor("W-9").conflict_with(held) == "holds the case"
    assert auditor("M-9").conflict_with(held) == "manages the case"
    assert auditor("M-5", teams=("T-0", "T-1")).conflict_with(held) == "manages team T-1"
    assert auditor("M-6", teams=("T-2",)).conflict_with(held) is None


def test_availability_and_absences() -> None:
    away = auditor("A", absences=((date(2013, 10, 14), date(2013, 11, 8)),))
    assert away.unavailable_because(date(2013, 10, 1), date(2013, 10, 31)) == "absent 2013-10-14 to 2013-11-08"
    assert away.unavailable_because(date(2013, 11, 9), date(2013, 11, 30)) is None
    assert auditor("B", capacity=0).unavailable_because(date(2013, 10, 1), date(2013, 10, 31)) == "capacity 0"
    assert auditor("C", active=False).unavailable_because(date(2013, 10, 1), date(2013, 10, 31)) == "inactive"


def test_negative_capacity_and_backwards_absences_are_refused() -> None:
    with pytest.raises(InvalidInput, match="capacity"):
        auditor("A", capacity=-1)
    with pytest.raises(InvalidInput, match="ends_on"):
        Absence(date(2013, 10, 5), date(2013, 10, 1))


def test_a_service_has_at_most_one_lead_auditor() -> None:
    check_roster([auditor("L-1", lead=True), auditor("L-2", Service.CHILDREN_IN_CARE, lead=True),
                  auditor("L-3", lead=True, active=False)])
    with pytest.raises(IllegalChange, match="first-response already has lead auditor L-1"):
        check_roster([auditor("L-1", lead=True), auditor("L-2", lead=True)])
