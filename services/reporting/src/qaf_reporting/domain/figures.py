"""The published figures (the `theme-updated` measures), computed from window sums: pure.

A figure is `count` over `denominator` for one theme, measure, scope (a service or "all"), window and
period end. Which figures exist:
- `audit-theme`: audits that found the theme as an area for development (minor, significant or serious;
  a finding of strength is not counted), per 100 audits completed; published once the count is > 0.
- `indicator-yes`: 'yes' answers to one question, per 100 yes + no answers (not-applicable answers are
  left out); published once a question has a yes or no answer.
- `practice-concern`: practice concerns naming a domain of the theme, per 100 audits completed.
- `audit-overdue`: audits gone overdue (by due month) per 100 audits allocated (by allocation month);
  published under the theme `timeliness-drift`, the action plan's area for late work.
- `escalation` / `complaint`: raised / received, per 100 cases open at any time in the window; for the
  theme as a whole (category null) and for each escalation reason / complaint category.
- `escalation-in-time` / `complaint-in-time`: resolved within timescale per 100 resolved; per theme and
  per reason / category; published once something was resolved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from qaf_shared.months import Month
from qaf_shared.vocabulary import Answer, Severity, Theme

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.windows import rate

Sums = Mapping[tuple[str, str, str, str], int]  # (kind, theme, k1, k2) -> count over the window
AUDIT_OVERDUE_THEME = Theme.TIMELINESS_DRIFT.value
ALL = "all"

MEASURES_OF_FAMILY: dict[str, tuple[str, ...]] = {
    k.AUDITS_FAMILY: ("audit-theme", "indicator-yes", "practice-concern"),
    k.OVERDUE_FAMILY: ("audit-overdue",),
    k.ESCALATIONS_FAMILY: ("escalation", "escalation-in-time"),
    k.COMPLAINTS_FAMILY: ("complaint", "complaint-in-time"),
}
KINDS_OF_FAMILY: dict[str, tuple[str, ...]] = {
    k.AUDITS_FAMILY: (k.AUDIT, k.AUDIT_THEME, k.INDICATOR, k.CONCERN_THEME),
    k.OVERDUE_FAMILY: (k.ALLOCATED, k.AUDIT_OVERDUE),
    k.ESCALATIONS_FAMILY: (k.ESCALATION, k.ESCALATION_RESOLVED),
    k.COMPLAINTS_FAMILY: (k.COMPLAINT, k.COMPLAINT_RESOLVED),
}
# Families whose figures use open cases as their denominator: a change to cases touches them.
OPEN_CASE_FAMILIES: tuple[str, ...] = (k.ESCALATIONS_FAMILY, k.COMPLAINTS_FAMILY)
PUBLISHED_FAMILIES: tuple[str, ...] = tuple(MEASURES_OF_FAMILY)


@dataclass(frozen=True)
class Figure:
    theme: str
    measure: str
    question_id: str | None
    category: str | None
    service: str
    window_months: int
    period_end: int
    count: int
    denominator: int
    denominator_kind: str

    @property
    def rate(self) -> float | None:
        return rate(self.count, self.denominator)

    @property
    def key(self) -> tuple[str, str, str, str, str, int, int]:
        return (
            self.theme, self.measure, self.question_id or "", self.category or "",
            self.service, self.window_months, self.period_end,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "theme": self.theme,
            "measure": self.measure,
            "question_id": self.question_id,
            "category": self.category,
            "service": self.service,
            "window_months": self.window_months,
            "period_end": Month(self.period_end).label,
            "count": self.count,
            "denominator": self.denominator,
            "denominator_kind": self.denominator_kind,
            "rate": self.rate,
        }


def _by(sums: Sums, kind: str) -> dict[tuple[str, str, str], int]:
    return {(theme, k1, k2): n for (kd, theme, k1, k2), n in sums.items() if kd == kind and n}


def family_figures(
    family: str, service: str, window: int, period_end: int, sums: Sums, open_cases: int = 0
) -> list[Figure]:
    """Every figure of one family for one scope and window, from the sums over that window."""

    def fig(theme: str, measure: str, count: int, denominator: int, kind: str, *, q: str | None = None,
            cat: str | None = None) -> Figure:
        return Figure(theme, measure, q, cat, service, window, period_end, count, denominator, kind)

    out: list[Figure] = []
    if family == k.AUDITS_FAMILY:
        audits = sums.get((k.AUDIT, "", "", ""), 0)
        found: dict[str, int] = defaultdict(int)
        for (theme, severity, _), n in _by(sums, k.AUDIT_THEME).items():
            if severity != Severity.STRENGTH.value:
                found[theme] += n
        out += [fig(t, "audit-theme", n, audits, "audits") for t, n in sorted(found.items()) if n > 0]
        answers: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (theme, question, answer), n in _by(sums, k.INDICATOR).items():
            answers[(theme, question)][answer] += n
        for (theme, question), tally in sorted(answers.items()):
            yes, no = tally.get(Answer.YES.value, 0), tally.get(Answer.NO.value, 0)
            if yes + no > 0:
                out.append(fig(theme, "indicator-yes", yes, yes + no, "answers", q=question))
        concerns: dict[str, int] = defaultdict(int)
        for (theme, _, _), n in _by(sums, k.CONCERN_THEME).items():
            concerns[theme] += n
        out += [fig(t, "practice-concern", n, audits, "audits") for t, n in sorted(concerns.items()) if n > 0]
    elif family == k.OVERDUE_FAMILY:
        overdue = sums.get((k.AUDIT_OVERDUE, "", "", ""), 0)
        if overdue > 0:
            allocated = sums.get((k.ALLOCATED, "", "", ""), 0)
            out.append(fig(AUDIT_OVERDUE_THEME, "audit-overdue", overdue, allocated, "allocated-audits"))
    elif family in (k.ESCALATIONS_FAMILY, k.COMPLAINTS_FAMILY):
        raised_kind, resolved_kind, measure = (
            (k.ESCALATION, k.ESCALATION_RESOLVED, "escalation")
            if family == k.ESCALATIONS_FAMILY
            else (k.COMPLAINT, k.COMPLAINT_RESOLVED, "complaint")
        )
        raised: dict[tuple[str, str | None], int] = defaultdict(int)
        for (theme, category, _), n in _by(sums, raised_kind).items():
            raised[(theme, None)] += n
            raised[(theme, category)] += n
        for (theme, category), n in sorted(raised.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            out.append(fig(theme, measure, n, open_cases, "open-cases", cat=category))
        resolved: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
        for (theme, category, timely), n in _by(sums, resolved_kind).items():
            for key in ((theme, None), (theme, category)):
                resolved[key][1] += n
                if timely == k.IN_TIME:
                    resolved[key][0] += n
        for (theme, category), (in_time, total) in sorted(
            resolved.items(), key=lambda item: (item[0][0], item[0][1] or "")
        ):
            out.append(fig(theme, f"{measure}-in-time", in_time, total, "resolved", cat=category))
    else:
        raise ValueError(f"no figures for family {family!r}")
    return out


def window_sums(monthly: Mapping[int, Sums], start: int, end: int) -> dict[tuple[str, str, str, str], int]:
    """Add up monthly sums over the months start..end (both included)."""
    total: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for month in range(start, end + 1):
        for key, n in monthly.get(month, {}).items():
            total[key] += n
    return dict(total)


def open_cases(opened_by_month: Mapping[int, int], closed_by_month: Mapping[int, int], start: int, end: int) -> int:
    """Cases open at any time in start..end: opened up to `end`, less those closed before `start`."""
    opened = sum(n for month, n in opened_by_month.items() if month <= end)
    closed = sum(n for month, n in closed_by_month.items() if month < start)
    return max(opened - closed, 0)
