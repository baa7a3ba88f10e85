"""What each consumed event adds to the monthly counters: pure functions, no I/O.

Every counter is bucketed by the event's own domain date, carried in its payload (the date a person
would say it happened): `completed_at` of an audit, `raised_at` of a practice concern, `due_on` of an
overdue audit or escalation stage (overdue items count in the month they were due), the allocation
`month` of an allocated audit, `raised_on` / `resolved_on` of an escalation, `received_on` /
`resolved_on` of a complaint, `opened_on` / `closed_on` of a case. The envelope's `occurred_at` is kept
only as the time of the change (it stamps the theme-updated messages the change causes). Because the
bucket comes from the event alone, a replay in any interleaving of topics gives the same figures, and a
late event lands in its own month.

Some facts must be counted once per entity, whatever the number of messages saying them (a
re-published completion, a complaint logged again at a further stage): such counts come in a
`Guarded` group with a `once` key; the repository applies a group only the first time its key is seen.
Order within one entity is the order of its Kafka partition, so "first" is the same on every replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from qaf_shared.contracts import (
    AuditAllocated,
    AuditCompleted,
    AuditOverdue,
    CaseClosed,
    CaseOpened,
    CaseUpdated,
    ComplaintLogged,
    ComplaintResolved,
    EscalationOverdue,
    EscalationRaised,
    EscalationResolved,
    PracticeConcernRaised,
)
from qaf_shared.envelope import Envelope, Payload
from qaf_shared.vocabulary import ConcernReason, Severity, Theme

from qaf_reporting.domain.months import month_of, parse_month

# Counter kinds, and the family of figures each belongs to (a family is recomputed as one).
AUDIT = "audit"  # audits completed
AUDIT_THEME = "audit-theme"  # theme, k1 = strongest severity found in the audit
GRADE = "grade"  # k1 = domain ('overall' for the overall grade), k2 = grade
INDICATOR = "indicator"  # theme, k1 = question id, k2 = answer
PARTICIPATION = "participation"  # k1 = social-worker | parents | child: audits where it happened
COMPLETED_FOR_ALLOCATION = "completed-for-allocation"  # audits completed, by their allocation month
CONCERN = "concern"  # practice concerns, k1 = reason
CONCERN_THEME = "concern-theme"  # practice concerns by the theme of a domain named, k1 = reason
ALLOCATED = "allocated"  # audits allocated, by allocation month
AUDIT_OVERDUE = "audit-overdue"  # audits gone overdue, by due month
ESCALATION = "escalation"  # escalations raised: theme, k1 = reason, k2 = raised-by role
ESCALATION_RESOLVED = "escalation-resolved"  # theme, k1 = reason, k2 = in-time | late
ESCALATION_OVERDUE = "escalation-overdue"  # theme, k1 = reason, k2 = stage
COMPLAINT = "complaint"  # complaints received (once per complaint): theme, k1 = category
COMPLAINT_STAGE = "complaint-stage"  # complaints at each stage: theme, k1 = category, k2 = stage
COMPLAINT_RESOLVED = "complaint-resolved"  # theme, k1 = category, k2 = in-time | late
CASE_OPENED = "case-opened"
CASE_CLOSED = "case-closed"

AUDITS_FAMILY = "audits"
OVERDUE_FAMILY = "overdue"
ESCALATIONS_FAMILY = "escalations"
COMPLAINTS_FAMILY = "complaints"
CASES_FAMILY = "cases"

FAMILY_OF_KIND: dict[str, str] = {
    AUDIT: AUDITS_FAMILY,
    AUDIT_THEME: AUDITS_FAMILY,
    GRADE: AUDITS_FAMILY,
    INDICATOR: AUDITS_FAMILY,
    PARTICIPATION: AUDITS_FAMILY,
    COMPLETED_FOR_ALLOCATION: OVERDUE_FAMILY,
    CONCERN: AUDITS_FAMILY,
    CONCERN_THEME: AUDITS_FAMILY,
    ALLOCATED: OVERDUE_FAMILY,
    AUDIT_OVERDUE: OVERDUE_FAMILY,
    ESCALATION: ESCALATIONS_FAMILY,
    ESCALATION_RESOLVED: ESCALATIONS_FAMILY,
    ESCALATION_OVERDUE: ESCALATIONS_FAMILY,
    COMPLAINT: COMPLAINTS_FAMILY,
    COMPLAINT_STAGE: COMPLAINTS_FAMILY,
    COMPLAINT_RESOLVED: COMPLAINTS_FAMILY,
    CASE_OPENED: CASES_FAMILY,
    CASE_CLOSED: CASES_FAMILY,
}

IN_TIME, LATE = "in-time", "late"

# Severity order, weakest first: an audit naming a theme twice counts once, at its strongest.
_SEVERITY_RANK = {Severity.STRENGTH: 0, Severity.MINOR: 1, Severity.SIGNIFICANT: 2, Severity.SERIOUS: 3}

# Audit domains that stand for a theme when a practice concern names them. A domain whose code is
# itself a theme code maps to that theme; these are the light-touch template's other domain names.
DOMAIN_THEMES: dict[str, Theme] = {
    "assessment": Theme.ASSESSMENT_QUALITY,
    "referral-and-response": Theme.THRESHOLDS,
    "referral": Theme.THRESHOLDS,
    "adoption-pathway-plan": Theme.PERMANENCE,
    "adoption-plan": Theme.PERMANENCE,
    "pathway-plan": Theme.PERMANENCE,
    "oversight": Theme.MANAGEMENT_OVERSIGHT,
    "management-oversight-recording-supervision": Theme.MANAGEMENT_OVERSIGHT,
}


def theme_of_domain(domain: str) -> Theme | None:
    try:
        return Theme(domain)
    except ValueError:
        return DOMAIN_THEMES.get(domain)


class RejectedEvent(ValueError):
    """An event reporting can never count (its dates make no sense): it goes to the dead-letter topic."""


EARLIEST_YEAR, LATEST_YEAR = 1990, 2100


def _checked(month: int, what: str) -> int:
    if not EARLIEST_YEAR * 12 <= month < (LATEST_YEAR + 1) * 12:
        raise RejectedEvent(f"{what} falls outside {EARLIEST_YEAR}-{LATEST_YEAR}: not a plausible date")
    return month


class Count(NamedTuple):
    """Add `n` to one monthly counter. (A NamedTuple: a replay builds millions of them.)"""

    kind: str
    service: str
    month: int
    theme: str = ""
    k1: str = ""
    k2: str = ""
    n: int = 1


class Guarded(NamedTuple):
    """Counts applied together, only the first time `once` is seen (always, when `once` is None)."""

    counts: tuple[Count, ...]
    once: tuple[str, str] | None = None


class CaseChange(NamedTuple):
    """A case event, applied to the case's state (see `cases.py`)."""

    case_id: str
    change: str  # opened | updated | closed
    service: str | None = None
    month: int | None = None


class Effects(NamedTuple):
    event_at: datetime
    groups: tuple[Guarded, ...] = ()
    case: CaseChange | None = None


def audit_completed(p: AuditCompleted, at: datetime) -> Effects:
    month, s = month_of(p.completed_at), p.service.value
    counts = [Count(AUDIT, s, month), Count(GRADE, s, month, k1="overall", k2=p.overall_grade.value)]
    for grade in p.grades:
        counts.append(Count(GRADE, s, month, k1=grade.domain, k2=grade.grade.value))
    strongest: dict[Theme, Severity] = {}
    for finding in p.themes:
        known = strongest.get(finding.theme)
        if known is None or _SEVERITY_RANK[finding.severity] > _SEVERITY_RANK[known]:
            strongest[finding.theme] = finding.severity
    for theme, severity in strongest.items():
        counts.append(Count(AUDIT_THEME, s, month, theme=theme.value, k1=severity.value))
    answered: set[str] = set()
    for answer in p.indicator_answers:
        if answer.question_id in answered:  # a question answered twice: the first answer counts
            continue
        answered.add(answer.question_id)
        counts.append(Count(INDICATOR, s, month, theme=answer.theme.value, k1=answer.question_id, k2=answer.answer.value))
    for who, happened in (
        ("social-worker", p.social_worker_participated),
        ("parents", p.parents_spoken_to),
        ("child", p.child_spoken_to),
    ):
        if happened:
            counts.append(Count(PARTICIPATION, s, month, k1=who))
    if p.month is not None:
        counts.append(Count(COMPLETED_FOR_ALLOCATION, s, parse_month(p.month)))
    return Effects(at, (Guarded(tuple(counts), ("audit-completed", p.audit_id)),))


def practice_concern_raised(p: PracticeConcernRaised, at: datetime) -> Effects:
    month, s, reason = month_of(p.raised_at), p.service.value, p.reason.value
    counts = [Count(CONCERN, s, month, k1=reason)]
    themes = {t for t in (theme_of_domain(d) for d in p.domains) if t is not None}
    if p.reason is ConcernReason.SAFEGUARDING_CONCERN:
        themes.add(Theme.SAFEGUARDING_RISK)
    for theme in sorted(themes):
        counts.append(Count(CONCERN_THEME, s, month, theme=theme.value, k1=reason))
    return Effects(at, (Guarded(tuple(counts), ("practice-concern", p.concern_id)),))


def audit_allocated(p: AuditAllocated, at: datetime) -> Effects:
    count = Count(ALLOCATED, p.service.value, parse_month(p.month))
    return Effects(at, (Guarded((count,), ("audit-allocated", p.audit_id)),))


def audit_overdue(p: AuditOverdue, at: datetime) -> Effects:
    count = Count(AUDIT_OVERDUE, p.service.value, month_of(p.due_on))
    return Effects(at, (Guarded((count,), ("audit-overdue", p.audit_id)),))


def escalation_raised(p: EscalationRaised, at: datetime) -> Effects:
    count = Count(
        ESCALATION, p.service.value, month_of(p.raised_on), p.theme.value, p.reason.value, p.raised_by_role.value
    )
    return Effects(at, (Guarded((count,), ("escalation-raised", p.escalation_id)),))


def escalation_resolved(p: EscalationResolved, at: datetime) -> Effects:
    timely = IN_TIME if p.within_timescale else LATE
    count = Count(ESCALATION_RESOLVED, p.service.value, month_of(p.resolved_on), p.theme.value, p.reason.value, timely)
    return Effects(at, (Guarded((count,), ("escalation-resolved", p.escalation_id)),))


def escalation_overdue(p: EscalationOverdue, at: datetime) -> Effects:
    count = Count(
        ESCALATION_OVERDUE, p.service.value, month_of(p.due_on), p.theme.value, p.reason.value, p.stage.value
    )
    return Effects(at, (Guarded((count,), ("escalation-overdue", f"{p.escalation_id}/{p.stage.value}")),))


def complaint_logged(p: ComplaintLogged, at: datetime) -> Effects:
    month, s, theme, category = month_of(p.received_on), p.service.value, p.theme.value, p.category.value
    return Effects(
        at,
        (
            Guarded((Count(COMPLAINT, s, month, theme, category),), ("complaint", p.complaint_id)),
            Guarded(
                (Count(COMPLAINT_STAGE, s, month, theme, category, p.stage.value),),
                ("complaint-stage", f"{p.complaint_id}/{p.stage.value}"),
            ),
        ),
    )


def complaint_resolved(p: ComplaintResolved, at: datetime) -> Effects:
    timely = IN_TIME if p.within_timescale else LATE
    count = Count(COMPLAINT_RESOLVED, p.service.value, month_of(p.resolved_on), p.theme.value, p.category.value, timely)
    return Effects(at, (Guarded((count,), ("complaint-resolved", f"{p.complaint_id}/{p.stage.value}")),))


def case_opened(p: CaseOpened, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "opened", p.service.value, month_of(p.opened_on)))


def case_updated(p: CaseUpdated, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "updated", p.service.value))


def case_closed(p: CaseClosed, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "closed", month=month_of(p.closed_on)))


RULES: dict[str, Callable[[Any, datetime], Effects]] = {
    "audit-completed": audit_completed,
    "practice-concern-raised": practice_concern_raised,
    "audit-overdue": audit_overdue,
    "audit-allocated": audit_allocated,
    "escalation-raised": escalation_raised,
    "escalation-resolved": escalation_resolved,
    "escalation-overdue": escalation_overdue,
    "complaint-logged": complaint_logged,
    "complaint-resolved": complaint_resolved,
    "case-opened": case_opened,
    "case-updated": case_updated,
    "case-closed": case_closed,
}


def effects_of(event: Envelope[Payload]) -> Effects:
    """The counters an event adds. Raises KeyError for an event type reporting does not count."""
    effects = RULES[event.event_type](event.payload, event.occurred_at)
    months = {count.month for group in effects.groups for count in group.counts}
    for month in months:
        _checked(month, f"{event.event_type} month")
    if effects.case is not None and effects.case.month is not None:
        _checked(effects.case.month, f"{event.event_type} date")
    return effects
