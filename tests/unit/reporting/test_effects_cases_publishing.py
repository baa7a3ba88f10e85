"""What events add to the counters, case states, which figures a change touches, theme-updated."""

from __future__ import annotations

from datetime import date

import pytest

from qaf_shared.contracts import ThemeUpdated
from qaf_shared.envelope import decode
from qaf_shared.months import Month
from qaf_shared.vocabulary import Answer, ComplaintStage, Severity, Theme
from qaf_reporting.domain import effects as k
from qaf_reporting.domain.cases import CaseState, apply_change, delta
from qaf_reporting.domain.effects import CaseChange, RejectedEvent, effects_of
from qaf_reporting.domain.figures import Figure
from qaf_reporting.domain.publishing import Published, changed, targets
from tests.unit.reporting import factories as f
from tests.unit.reporting.factories import FR, SS


def counts(event) -> set[tuple]:  # type: ignore[no-untyped-def]
    return {(kind, service, Month(month).label, theme, k1, k2, 1)
            for g in effects_of(event).groups for kind, service, month, theme, k1, k2 in g.counts}


def test_an_audit_counts_in_the_month_it_was_completed_with_each_theme_once_at_its_strongest() -> None:
    event = f.envelope(f.audit_completed(
        "A1", FR, date(2013, 9, 30), month="2013-10",
        themes=[(Theme.SUPERVISION, Severity.MINOR), (Theme.SUPERVISION, Severity.SERIOUS)],
        answers=[("q1", Theme.CHRONOLOGIES, Answer.YES), ("q1", Theme.CHRONOLOGIES, Answer.NO)],
    ), date(2013, 11, 2))  # envelope time differs: the payload's completion date decides the month
    got = counts(event)
    assert ("audit", "first-response", "2013-09", "", "", "", 1) in got
    assert ("audit-theme", "first-response", "2013-09", "supervision", "serious", "", 1) in got
    assert not any(c[0] == "audit-theme" and c[4] == "minor" for c in got)
    assert [c for c in got if c[0] == "indicator"] == [
        ("indicator", "first-response", "2013-09", "chronologies", "q1", "yes", 1)]
    assert ("completed-for-allocation", "first-response", "2013-10", "", "", "", 1) in got
    assert effects_of(event).groups[0].once == ("audit-completed", "A1")


def test_a_complaint_escalated_to_stage_two_is_one_complaint_at_two_stages() -> None:
    first = effects_of(f.envelope(f.complaint("CP-1", FR, date(2013, 10, 4)), date(2013, 10, 4)))
    second = effects_of(f.envelope(f.complaint("CP-1", FR, date(2013, 11, 1), stage=ComplaintStage.STAGE_2),
                                   date(2013, 11, 1)))
    assert [g.once for g in first.groups] == [("complaint", "CP-1"), ("complaint-stage", "CP-1/stage-1")]
    assert [g.once for g in second.groups] == [("complaint", "CP-1"), ("complaint-stage", "CP-1/stage-2")]


def test_a_practice_concern_counts_under_the_themes_of_the_domains_it_names() -> None:
    event = f.envelope(f.concern("PC-1", "A1", SS, date(2013, 10, 3), ["assessment", "recording", "no-such"]),
                       date(2013, 10, 3))
    themes = {c[3] for c in counts(event) if c[0] == "concern-theme"}
    assert themes == {"assessment-quality", "recording"}
    assert ("concern", "safeguarding-and-support", "2013-10", "", "inadequate-grade", "", 1) in counts(event)


def test_an_event_dated_outside_any_plausible_year_is_rejected_with_a_reason() -> None:
    with pytest.raises(RejectedEvent, match="not a plausible date"):
        effects_of(f.envelope(f.audit_completed("A1", FR, date(1900, 1, 1)), date(2013, 1, 1)))


def test_case_counters_follow_the_case_through_opening_transfer_and_closing() -> None:
    oct_, nov = Month.parse("2013-10"), Month.parse("2013-11")
    opened = apply_change(None, CaseChange("C-1", "opened", FR.value, oct_))
    assert {(c.kind, c.service, c.n) for c in delta(None, opened)} == {("case-opened", "first-response", 1)}
    moved = apply_change(opened, CaseChange("C-1", "updated", SS.value))
    assert {(c.kind, c.service, c.n) for c in delta(opened, moved)} == {
        ("case-opened", "first-response", -1), ("case-opened", "safeguarding-and-support", 1)}
    closed = apply_change(moved, CaseChange("C-1", "closed", month=nov))
    assert [(c.kind, c.service, Month(c.month).label, c.n) for c in delta(moved, closed)] == [
        ("case-closed", "safeguarding-and-support", "2013-11", 1)]


def test_a_case_closed_before_its_opening_is_seen_counts_once_the_opening_arrives() -> None:
    closed = apply_change(None, CaseChange("C-1", "closed", month=Month.parse("2013-11")))
    assert delta(None, closed) == []
    opened = apply_change(closed, CaseChange("C-1", "opened", FR.value, Month.parse("2013-02")))
    assert {(c.kind, Month(c.month).label) for c in delta(closed, opened)} == {
        ("case-opened", "2013-02"), ("case-closed", "2013-11")}
    assert opened == CaseState("C-1", FR.value, Month.parse("2013-02"), Month.parse("2013-11"))


def test_a_change_touches_its_service_and_all_for_every_window_up_to_the_watermark() -> None:
    sep, oct_ = Month.parse("2013-09"), Month.parse("2013-10")
    found = targets([(k.AUDITS_FAMILY, FR.value, sep)], latest=oct_)
    assert found == {
        (k.AUDITS_FAMILY, scope, w, pe)
        for scope in (FR.value, "all")
        for w, pe in [(1, sep), (3, sep), (3, oct_), (6, sep), (6, oct_), (12, sep), (12, oct_)]
    }
    # a case counter touches the open-case families at every later period end
    cases = targets([(k.CASES_FAMILY, FR.value, Month.parse("2013-01"))], latest=oct_)
    assert {fam for fam, *_ in cases} == {k.ESCALATIONS_FAMILY, k.COMPLAINTS_FAMILY}
    assert len(cases) == 2 * 2 * 4 * 10


def test_only_figures_that_moved_are_published_with_their_previous_value_and_delta() -> None:
    figure = Figure("supervision", "audit-theme", None, None, "all", 3, Month.parse("2013-10"), 14, 150, "audits")
    same = Published(14, 150, 9.33)
    assert changed([figure], {figure.key: same}) == []
    ((_, message),) = changed([figure], {figure.key: Published(11, 150, 7.33)})
    assert (message.previous_count, message.previous_rate, message.delta, message.rate) == (11, 7.33, 2.0, 9.33)
    ((_, first),) = changed([figure], {})
    assert (first.previous_count, first.previous_rate, first.delta) == (None, None, None)
    # valid against the contract, on the wire
    wire = f.envelope(message, date(2013, 10, 31), source="reporting")
    assert decode(wire.to_bytes(), expected_topic="qaf.themes").payload == message
    assert isinstance(message, ThemeUpdated)
