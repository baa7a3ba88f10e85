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
from datetime import date, datetime
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
from qaf_shared.months import Month
from qaf_shared.vocabulary import ConcernReason, Severity, Theme


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


_THEME_OF_DOMAIN: dict[str, Theme] = {**DOMAIN_THEMES, **{theme.value: theme for theme in Theme}}


def theme_of_domain(domain: str) -> Theme | None:
    return _THEME_OF_DOMAIN.get(domain)


class RejectedEvent(ValueError):
    """An event reporting can never count (its dates make no sense): it goes to the dead-letter topic."""


EARLIEST_YEAR, LATEST_YEAR = 1990, 2100


_EARLIEST, _LATEST = EARLIEST_YEAR * 12, (LATEST_YEAR + 1) * 12


def _month_of(day: date | datetime) -> int:
    """`Month.of(day)` as a plain int: every event's counter keys are built here, on the consumer's hot path
    (docs/performance.md), and building the int subclass there made preparing an event ~15% slower."""
    return day.year * 12 + day.month - 1


def _checked(month: int, what: str) -> int:
    if not _EARLIEST <= month < _LATEST:
        raise RejectedEvent(f"{what} falls outside {EARLIEST_YEAR}-{LATEST_YEAR}: not a plausible date")
    return month


CountKey = tuple[str, str, int, str, str, str]  # kind, service, month, theme, k1, k2


class Count(NamedTuple):
    """Add `n` to one monthly counter (a case's state change; may be negative)."""

    kind: str
    service: str
    month: int
    theme: str = ""
    k1: str = ""
    k2: str = ""
    n: int = 1


class Guarded(NamedTuple):
    """Counters each raised by one, together, only the first time `once` is seen (always, when None).

    Each is a plain `CountKey` tuple, not a Count: a replay builds millions of them, and a tuple
    literal costs a fiftieth of a NamedTuple built with keywords.
    """

    counts: tuple[CountKey, ...]
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


# The rules read vocabulary members' values with `_value_` (the Enum attribute `value` returns):
# `.value` goes through a descriptor at four times the cost, on a path taken millions of times in a replay.


def audit_completed(p: AuditCompleted, at: datetime) -> Effects:
    month, s = _month_of(p.completed_at), p.service._value_
    counts: list[CountKey] = [(AUDIT, s, month, "", "", ""), (GRADE, s, month, "", "overall", p.overall_grade._value_)]
    for grade in p.grades:
        counts.append((GRADE, s, month, "", grade.domain, grade.grade._value_))
    strongest: dict[Theme, Severity] = {}
    for finding in p.themes:
        known = strongest.get(finding.theme)
        if known is None or _SEVERITY_RANK[finding.severity] > _SEVERITY_RANK[known]:
            strongest[finding.theme] = finding.severity
    for theme, severity in strongest.items():
        counts.append((AUDIT_THEME, s, month, theme._value_, severity._value_, ""))
    answered: set[str] = set()
    for answer in p.indicator_answers:
        if answer.question_id in answered:  # a question answered twice: the first answer counts
            continue
        answered.add(answer.question_id)
        counts.append((INDICATOR, s, month, answer.theme._value_, answer.question_id, answer.answer._value_))
    if p.social_worker_participated:
        counts.append((PARTICIPATION, s, month, "", "social-worker", ""))
    if p.parents_spoken_to:
        counts.append((PARTICIPATION, s, month, "", "parents", ""))
    if p.child_spoken_to:
        counts.append((PARTICIPATION, s, month, "", "child", ""))
    if p.month is not None:
        counts.append((COMPLETED_FOR_ALLOCATION, s, Month.parse(p.month), "", "", ""))
    return Effects(at, (Guarded(tuple(counts), ("audit-completed", p.audit_id)),))


def practice_concern_raised(p: PracticeConcernRaised, at: datetime) -> Effects:
    month, s, reason = _month_of(p.raised_at), p.service._value_, p.reason._value_
    counts: list[CountKey] = [(CONCERN, s, month, "", reason, "")]
    themes = {t for t in (theme_of_domain(d) for d in p.domains) if t is not None}
    if p.reason is ConcernReason.SAFEGUARDING_CONCERN:
        themes.add(Theme.SAFEGUARDING_RISK)
    for theme in sorted(themes):
        counts.append((CONCERN_THEME, s, month, theme._value_, reason, ""))
    return Effects(at, (Guarded(tuple(counts), ("practice-concern", p.concern_id)),))


def audit_allocated(p: AuditAllocated, at: datetime) -> Effects:
    key = (ALLOCATED, p.service._value_, Month.parse(p.month), "", "", "")
    return Effects(at, (Guarded((key,), ("audit-allocated", p.audit_id)),))


def audit_overdue(p: AuditOverdue, at: datetime) -> Effects:
    key = (AUDIT_OVERDUE, p.service._value_, _month_of(p.due_on), "", "", "")
    return Effects(at, (Guarded((key,), ("audit-overdue", p.audit_id)),))


def escalation_raised(p: EscalationRaised, at: datetime) -> Effects:
    key = (ESCALATION, p.service._value_, _month_of(p.raised_on), p.theme._value_, p.reason._value_,
           p.raised_by_role._value_)
    return Effects(at, (Guarded((key,), ("escalation-raised", p.escalation_id)),))


def escalation_resolved(p: EscalationResolved, at: datetime) -> Effects:
    timely = IN_TIME if p.within_timescale else LATE
    key = (ESCALATION_RESOLVED, p.service._value_, _month_of(p.resolved_on), p.theme._value_, p.reason._value_, timely)
    return Effects(at, (Guarded((key,), ("escalation-resolved", p.escalation_id)),))


def escalation_overdue(p: EscalationOverdue, at: datetime) -> Effects:
    stage = p.stage._value_
    key = (ESCALATION_OVERDUE, p.service._value_, _month_of(p.due_on), p.theme._value_, p.reason._value_, stage)
    return Effects(at, (Guarded((key,), ("escalation-overdue", f"{p.escalation_id}/{stage}")),))


def complaint_logged(p: ComplaintLogged, at: datetime) -> Effects:
    month, s, theme, category = _month_of(p.received_on), p.service._value_, p.theme._value_, p.category._value_
    stage = p.stage._value_
    return Effects(
        at,
        (
            Guarded(((COMPLAINT, s, month, theme, category, ""),), ("complaint", p.complaint_id)),
            Guarded(((COMPLAINT_STAGE, s, month, theme, category, stage),), ("complaint-stage", f"{p.complaint_id}/{stage}")),
        ),
    )


def complaint_resolved(p: ComplaintResolved, at: datetime) -> Effects:
    timely = IN_TIME if p.within_timescale else LATE
    key = (COMPLAINT_RESOLVED, p.service._value_, _month_of(p.resolved_on), p.theme._value_, p.category._value_, timely)
    return Effects(at, (Guarded((key,), ("complaint-resolved", f"{p.complaint_id}/{p.stage._value_}")),))


def case_opened(p: CaseOpened, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "opened", p.service._value_, _month_of(p.opened_on)))


def case_updated(p: CaseUpdated, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "updated", p.service._value_))


def case_closed(p: CaseClosed, at: datetime) -> Effects:
    return Effects(at, case=CaseChange(p.case_id, "closed", month=_month_of(p.closed_on)))


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

# Every payload reporting counts: one handler serves them all, the rules above tell them apart.
Counted = (
    AuditCompleted | PracticeConcernRaised | AuditOverdue | AuditAllocated | EscalationRaised | EscalationResolved
    | EscalationOverdue | ComplaintLogged | ComplaintResolved | CaseOpened | CaseUpdated | CaseClosed
)


def effects_of(event: Envelope[Payload]) -> Effects:
    """The counters an event adds. Raises KeyError for an event type reporting does not count."""
    effects = RULES[event.event_type](event.payload, event.occurred_at)
    for group in effects.groups:
        for key in group.counts:
            if not _EARLIEST <= key[2] < _LATEST:
                _checked(key[2], f"{event.event_type} month")
    if effects.case is not None and effects.case.month is not None:
        _checked(effects.case.month, f"{event.event_type} date")
    return effects
