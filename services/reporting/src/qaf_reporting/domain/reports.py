"""The monthly collation and the quarterly in-depth report, built from window sums: pure.

Monthly collation (council report §3.1.5: "information from the monthly audits is collated and
circulated across the service"): for one calendar month, per service and for all services, audits
completed against audits allocated, the grade distribution per domain, the top themes, the indicator
results, and the month's concerns, overdue audits, escalations and complaints.

Quarterly in-depth report ("identifies the key areas for practice development"): for the three
months ending at a month (the council's first covered May-July, so the quarter is any three months),
each theme found in audits, ranked by prevalence (audits that found it as an area for development per
100 audits) and by its change against the previous three months, with the evidence counts behind it
(audits, strengths, practice concerns, escalations, complaints) and the indicator results.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from qaf_shared.months import Month
from qaf_shared.vocabulary import SERVICE_LABELS, Answer, Grade, Service, Severity

from qaf_reporting.domain import effects as k
from qaf_reporting.domain.figures import ALL, Sums
from qaf_reporting.domain.windows import rate

COLLATION_KINDS = (
    k.AUDIT, k.ALLOCATED, k.COMPLETED_FOR_ALLOCATION, k.GRADE, k.AUDIT_THEME, k.INDICATOR, k.PARTICIPATION,
    k.CONCERN, k.AUDIT_OVERDUE, k.ESCALATION, k.COMPLAINT,
)
QUARTERLY_KINDS = (k.AUDIT, k.AUDIT_THEME, k.INDICATOR, k.CONCERN_THEME, k.ESCALATION, k.COMPLAINT)
GRADE_ORDER = [g.value for g in Grade]
_DEVELOPMENT = {Severity.MINOR.value, Severity.SIGNIFICANT.value, Severity.SERIOUS.value}


def label(code: str) -> str:
    try:
        return SERVICE_LABELS[Service(code)]
    except ValueError:
        return "All services" if code == ALL else code.replace("-", " ").capitalize()


def merge(parts: Iterable[Sums]) -> dict[tuple[str, str, str, str], int]:
    total: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for part in parts:
        for key, n in part.items():
            total[key] += n
    return dict(total)


def _total(sums: Sums, kind: str) -> int:
    return sum(n for (kd, _, _, _), n in sums.items() if kd == kind)


def _themes_found(sums: Sums) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, int]]:
    development: dict[str, int] = defaultdict(int)
    by_severity: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    strengths: dict[str, int] = defaultdict(int)
    for (kind, theme, severity, _), n in sums.items():
        if kind != k.AUDIT_THEME:
            continue
        if severity in _DEVELOPMENT:
            development[theme] += n
            by_severity[theme][severity] += n
        else:
            strengths[theme] += n
    return development, by_severity, strengths


def indicator_results(sums: Sums) -> list[dict[str, Any]]:
    tally: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (kind, theme, question, answer), n in sums.items():
        if kind == k.INDICATOR:
            tally[(question, theme)][answer] += n
    out = []
    for (question, theme), t in sorted(tally.items()):
        yes, no, na = t.get(Answer.YES.value, 0), t.get(Answer.NO.value, 0), t.get(Answer.NOT_APPLICABLE.value, 0)
        out.append({"question_id": question, "theme": theme, "yes": yes, "no": no, "not_applicable": na,
                    "percent_yes": rate(yes, yes + no)})
    return out


def collation_section(service: str, sums: Sums, top: int = 5) -> dict[str, Any]:
    audits = sums.get((k.AUDIT, "", "", ""), 0)
    allocated = sums.get((k.ALLOCATED, "", "", ""), 0)
    of_allocation = sums.get((k.COMPLETED_FOR_ALLOCATION, "", "", ""), 0)
    grades: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(GRADE_ORDER, 0))
    for (kind, _, domain, grade), n in sums.items():
        if kind == k.GRADE:
            grades[domain][grade] = grades[domain].get(grade, 0) + n
    overall = grades.pop("overall", dict.fromkeys(GRADE_ORDER, 0))
    development, by_severity, strengths = _themes_found(sums)
    ranked = sorted(development.items(), key=lambda item: (-item[1], item[0]))[:top]
    participation = {
        who: {"audits": sums.get((k.PARTICIPATION, "", who, ""), 0),
              "percent": rate(sums.get((k.PARTICIPATION, "", who, ""), 0), audits)}
        for who in ("social-worker", "parents", "child")
    }
    return {
        "service": service,
        "label": label(service),
        "audits_completed": audits,
        "audits_allocated": allocated,
        "allocated_audits_completed": of_allocation,
        "percent_of_allocation_completed": rate(of_allocation, allocated),
        "overall_grades": overall,
        "grades_by_domain": {domain: grades[domain] for domain in sorted(grades)},
        "top_themes": [
            {"theme": theme, "label": label(theme), "audits": n, "per_100_audits": rate(n, audits),
             "by_severity": dict(sorted(by_severity[theme].items())), "strengths": strengths.get(theme, 0)}
            for theme, n in ranked
        ],
        "indicators": indicator_results(sums),
        "participation": participation,
        "practice_concerns": _total(sums, k.CONCERN),
        "audits_overdue": sums.get((k.AUDIT_OVERDUE, "", "", ""), 0),
        "escalations_raised": _total(sums, k.ESCALATION),
        "complaints_received": _total(sums, k.COMPLAINT),
    }


def monthly_collation(month: int, by_service: Mapping[str, Sums], top: int = 5) -> dict[str, Any]:
    services = [s.value for s in Service if s.value in by_service]
    sections = [collation_section(s, by_service[s], top) for s in services]
    sections.append(collation_section(ALL, merge(by_service.values()), top))
    return {"report": "monthly-collation", "month": Month(month).label, "services": sections}


def quarterly_report(
    period_end: int, scope: str, quarter: Sums, previous: Sums, key_areas: int = 4
) -> dict[str, Any]:
    audits, audits_before = quarter.get((k.AUDIT, "", "", ""), 0), previous.get((k.AUDIT, "", "", ""), 0)
    found, by_severity, strengths = _themes_found(quarter)
    found_before, _, _ = _themes_found(previous)

    def per_theme(sums: Sums, kind: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for (kd, theme, _, _), n in sums.items():
            if kd == kind:
                out[theme] += n
        return out

    concerns, escalations, complaints = (per_theme(quarter, kd) for kd in (k.CONCERN_THEME, k.ESCALATION, k.COMPLAINT))
    themes = set(found) | set(found_before) | set(strengths) | set(concerns) | set(escalations) | set(complaints)
    rows = []
    for theme in sorted(themes):
        now, before = rate(found.get(theme, 0), audits), rate(found_before.get(theme, 0), audits_before)
        rows.append({
            "theme": theme,
            "label": label(theme),
            "audits_finding": found.get(theme, 0),
            "per_100_audits": now,
            "previous_audits_finding": found_before.get(theme, 0),
            "previous_per_100_audits": before,
            "change": round(now - before, 2) if now is not None and before is not None else None,
            "by_severity": dict(sorted(by_severity[theme].items())) if theme in by_severity else {},
            "strengths": strengths.get(theme, 0),
            "practice_concerns": concerns.get(theme, 0),
            "escalations": escalations.get(theme, 0),
            "complaints": complaints.get(theme, 0),
        })
    by_prevalence = sorted(rows, key=lambda r: (-r["audits_finding"], r["theme"]))
    by_change = sorted(
        rows, key=lambda r: (r["change"] is None, -(r["change"] or 0.0), -r["audits_finding"], r["theme"])
    )
    for rank, row in enumerate(by_prevalence, 1):
        row["prevalence_rank"] = rank
    for rank, row in enumerate(by_change, 1):
        row["change_rank"] = rank
    before_by_q = {(i["question_id"], i["theme"]): i for i in indicator_results(previous)}
    indicators = []
    for item in indicator_results(quarter):
        prior = before_by_q.get((item["question_id"], item["theme"]))
        item["previous_percent_yes"] = prior["percent_yes"] if prior else None
        indicators.append(item)
    return {
        "report": "quarterly",
        "service": scope,
        "label": label(scope),
        "quarter": {"from": Month(period_end - 2).label, "to": Month(period_end).label},
        "previous_quarter": {"from": Month(period_end - 5).label, "to": Month(period_end - 3).label},
        "audits_completed": audits,
        "previous_audits_completed": audits_before,
        "key_areas_for_practice_development": [
            r["theme"] for r in by_prevalence if r["audits_finding"] > 0
        ][:key_areas],
        "themes_by_prevalence": by_prevalence,
        "themes_by_change": [r["theme"] for r in by_change],
        "indicators": indicators,
    }


def collation_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The monthly collation as tidy CSV rows: month, service, section, item, detail, count, denominator, rate."""
    month = report["month"]
    rows: list[list[Any]] = []
    for s in report["services"]:
        svc = s["service"]
        rows.append([month, svc, "audits", "completed", "", s["audits_completed"], "", ""])
        rows.append([month, svc, "audits", "allocated", "", s["audits_allocated"], "", ""])
        rows.append([month, svc, "audits", "allocated-completed", "", s["allocated_audits_completed"],
                     s["audits_allocated"], s["percent_of_allocation_completed"]])
        for grade, n in s["overall_grades"].items():
            rows.append([month, svc, "grade", "overall", grade, n, s["audits_completed"], rate(n, s["audits_completed"])])
        for domain, grades in s["grades_by_domain"].items():
            graded = sum(grades.values())
            for grade, n in grades.items():
                rows.append([month, svc, "grade", domain, grade, n, graded, rate(n, graded)])
        for t in s["top_themes"]:
            rows.append([month, svc, "theme", t["theme"], "", t["audits"], s["audits_completed"], t["per_100_audits"]])
        for i in s["indicators"]:
            rows.append([month, svc, "indicator", i["question_id"], i["theme"], i["yes"], i["yes"] + i["no"],
                         i["percent_yes"]])
        for who, p in s["participation"].items():
            rows.append([month, svc, "participation", who, "", p["audits"], s["audits_completed"], p["percent"]])
        for item in ("practice_concerns", "audits_overdue", "escalations_raised", "complaints_received"):
            rows.append([month, svc, "activity", item.replace("_", "-"), "", s[item], "", ""])
    return rows


COLLATION_HEADER = ["month", "service", "section", "item", "detail", "count", "denominator", "rate"]
QUARTERLY_HEADER = [
    "quarter_from", "quarter_to", "service", "theme", "prevalence_rank", "change_rank", "audits_finding",
    "per_100_audits", "previous_audits_finding", "previous_per_100_audits", "change", "strengths",
    "practice_concerns", "escalations", "complaints",
]


def quarterly_rows(report: dict[str, Any]) -> list[list[Any]]:
    q = report["quarter"]
    return [
        [q["from"], q["to"], report["service"], r["theme"], r["prevalence_rank"], r["change_rank"], r["audits_finding"],
         r["per_100_audits"], r["previous_audits_finding"], r["previous_per_100_audits"], r["change"], r["strengths"],
         r["practice_concerns"], r["escalations"], r["complaints"]]
        for r in report["themes_by_prevalence"]
    ]
