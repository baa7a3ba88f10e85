"""The dashboard's series, from monthly sums: pure.

Trends are drawn over the twelve months ending at the chosen month. Theme and indicator trends use
rolling three-month windows at each month (a month alone holds few audits: about fifty across six
services), so the data needed start two months before the first month drawn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from qaf_shared.months import Month
from qaf_shared.vocabulary import Answer, Severity

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import Sums, window_sums
from qaf_reporting.domain.reports import GRADE_ORDER, label
from qaf_reporting.domain.windows import rate

# The counter kinds the dashboard reads, and which of their dimensions (theme, k1, k2) it tells apart;
# the others can be summed away before they reach it (`series` gives the same result either way).
READS: dict[str, tuple[str, ...]] = {
    k.AUDIT: (),
    k.AUDIT_THEME: ("theme", "k1"),
    k.GRADE: ("k1", "k2"),
    k.INDICATOR: ("theme", "k1", "k2"),
    k.ESCALATION: (),
    k.COMPLAINT: (),
    k.CONCERN: (),
    k.AUDIT_OVERDUE: (),
}
KINDS = tuple(READS)
MONTHS_SHOWN = 12
ROLLING = 3
TOP = 6


@dataclass(frozen=True)
class DashboardSeries:
    months: list[str]
    theme_rates: dict[str, list[float | None]]
    grades: dict[str, list[int]]
    indicator_yes: dict[str, list[float | None]]
    activity: dict[str, list[int]]


def first_month_needed(period_end: int) -> int:
    return period_end - MONTHS_SHOWN - ROLLING + 2


def series(period_end: int, monthly: Mapping[int, Sums]) -> DashboardSeries:
    shown = list(range(period_end - MONTHS_SHOWN + 1, period_end + 1))
    year = window_sums(monthly, shown[0], period_end)
    development: dict[str, int] = defaultdict(int)
    answered: dict[tuple[str, str], int] = defaultdict(int)
    for (kind, theme, k1, k2), n in year.items():
        if kind == k.AUDIT_THEME and k1 != Severity.STRENGTH.value:
            development[theme] += n
        if kind == k.INDICATOR and k2 in (Answer.YES.value, Answer.NO.value):
            answered[(theme, k1)] += n
    top_themes = [t for t, _ in sorted(development.items(), key=lambda i: (-i[1], i[0]))[:TOP]]
    top_questions = [q for q, _ in sorted(answered.items(), key=lambda i: (-i[1], i[0]))[:TOP]]
    theme_rates: dict[str, list[float | None]] = {label(t): [] for t in top_themes}
    indicator_yes: dict[str, list[float | None]] = {q: [] for _, q in top_questions}
    for month in shown:
        rolling = window_sums(monthly, month - ROLLING + 1, month)
        audits = rolling.get((k.AUDIT, "", "", ""), 0)
        for theme in top_themes:
            found = sum(n for (kd, t, sev, _), n in rolling.items()
                        if kd == k.AUDIT_THEME and t == theme and sev != Severity.STRENGTH.value)
            theme_rates[label(theme)].append(rate(found, audits))
        for theme, question in top_questions:
            yes = rolling.get((k.INDICATOR, theme, question, Answer.YES.value), 0)
            no = rolling.get((k.INDICATOR, theme, question, Answer.NO.value), 0)
            indicator_yes[question].append(rate(yes, yes + no))
    grades = {g: [monthly.get(m, {}).get((k.GRADE, "", "overall", g), 0) for m in shown] for g in GRADE_ORDER}

    def total(kind: str, month: int) -> int:
        return sum(n for (kd, _, _, _), n in monthly.get(month, {}).items() if kd == kind)

    activity = {
        "escalations raised": [total(k.ESCALATION, m) for m in shown],
        "complaints received": [total(k.COMPLAINT, m) for m in shown],
        "practice concerns": [total(k.CONCERN, m) for m in shown],
        "audits overdue": [total(k.AUDIT_OVERDUE, m) for m in shown],
    }
    return DashboardSeries([Month(m).label for m in shown], theme_rates, grades, indicator_yes, activity)
