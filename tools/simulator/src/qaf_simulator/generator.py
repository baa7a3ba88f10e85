"""The simulated council: a pure function of the seed.

`build_plan(seed, ...)` returns everything the case systems and staff will do over the months
(cases opening, moving and closing; the auditor roster; each month's draw seed; CPA and IRO
escalations; complaints at each stage; action owners' milestone updates), all on simulated 2013-14
dates. `audit_outcome(seed, audit)` says, again purely, whether and when an allocated audit is
completed and what the auditor finds. No clock, no I/O, no global random state: the same seed gives
the same plan and the same completions, so the platform's figures are the same run after run.

Trends are functions of the simulated date (months since April 2013), not of the run's length, so a
shortened run sees the same early months as the full year:
- improving: chronologies (`chronology-up-to-date`), strategy meetings, work to timescale;
- drifting: complaints about communication rise month by month; supervision does not improve
  (`supervision-regular-reflective` stays near a third, below the plan's tolerated level).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

import holidays

PLAN_START = date(2013, 4, 1)  # the plan year whose trends the generator draws

# (service code, short code, share of open cases, teams, legal statuses with weights)
SERVICES: tuple[tuple[str, str, float, int, tuple[tuple[str, float], ...]], ...] = (
    ("first-response", "FR", 0.18, 4, (("assessment", 0.6), ("child-in-need", 0.3), ("early-help", 0.1))),
    ("safeguarding-and-support", "SS", 0.34, 6, (("child-in-need", 0.5), ("child-protection", 0.5))),
    ("children-in-care", "CIC", 0.24, 4, (("looked-after", 0.85), ("care-leaver", 0.15))),
    ("disabled-children", "DC", 0.11, 2, (("child-in-need", 0.7), ("looked-after", 0.2), ("child-protection", 0.1))),
    ("fostering-and-adoption", "FA", 0.09, 2, (("adoption", 0.6), ("looked-after", 0.4))),
    ("safeguarding-and-qa", "SQA", 0.04, 1, (("child-protection", 0.7), ("other", 0.3))),
)
SHORT = {code: short for code, short, *_ in SERVICES}
CLOSE_RATE = 0.075  # share of open cases closing each month (opening keeps the caseload level)

# Indicator questions of the light-touch template: P(yes) as a function of t (0 = April 2013, 1 = March 2014)
ANSWER_TRENDS: dict[str, tuple[float, float]] = {  # question id: (P(yes) at t=0, change by t=1)
    "strategy-meeting-multi-agency": (0.62, 0.20),
    "chronology-up-to-date": (0.42, 0.46),  # improves
    "work-to-timescale": (0.58, 0.16),
    "response-timely": (0.68, -0.06),
    "supervision-regular-reflective": (0.33, 0.0),  # does not improve
    "transfer-minimised-impact": (0.68, 0.04),
    "professional-challenge": (0.57, 0.10),
    "threshold-appropriate": (0.74, 0.0),
    "core-group-roles-clear": (0.66, 0.10),
    "fathers-included": (0.52, 0.10),
    "early-help-offered": (0.58, 0.05),
    "child-seen-and-heard": (0.80, 0.05),
    "direct-work-evident": (0.70, 0.05),
    "assessment-current": (0.74, 0.05),
    "plan-specific-outcomes": (0.64, 0.08),
    "visits-to-timescale": (0.82, 0.02),
    "management-direction-recorded": (0.60, 0.10),
    "permanence-plan-in-place": (0.70, 0.05),
}
# Domains of the light-touch template with their themes; (outstanding, good, requires improvement) at t=0
# and the shift towards better by t=1 (the rest is inadequate).
DOMAINS: dict[str, tuple[tuple[str, ...], tuple[float, float, float], float]] = {
    "referral-and-response": (("responsiveness-to-families", "thresholds", "strategy-meetings", "early-help"),
                              (0.08, 0.50, 0.36), 0.05),
    "assessment": (("assessment-quality", "fathers", "voice-of-the-child", "direct-work"), (0.07, 0.47, 0.40), 0.06),
    "planning": (("planning", "timeliness-drift", "conference-core-group-roles", "case-transfer"),
                 (0.05, 0.45, 0.43), 0.06),
    "review": (("review", "professional-challenge", "visits"), (0.06, 0.50, 0.39), 0.04),
    "adoption-pathway-plan": (("permanence",), (0.08, 0.52, 0.36), 0.03),
    "management-oversight": (("management-oversight", "safeguarding-risk"), (0.04, 0.42, 0.47), 0.05),
    "recording": (("recording", "chronologies"), (0.04, 0.38, 0.50), 0.15),  # improves with chronologies
    "supervision": (("supervision",), (0.02, 0.28, 0.58), 0.0),  # does not
}
GRADES = ("outstanding", "good", "requires-improvement", "inadequate")
# Which answer "no" points to which theme, so findings and answers tell the same story
QUESTION_THEME = {
    "chronology-up-to-date": "chronologies", "supervision-regular-reflective": "supervision",
    "work-to-timescale": "timeliness-drift", "response-timely": "responsiveness-to-families",
    "fathers-included": "fathers", "strategy-meeting-multi-agency": "strategy-meetings",
}

# Escalations a month across the whole council at 2,500 open cases: (reason, rate at t=0, change by t=1)
ESCALATION_RATES: tuple[tuple[str, float, float], ...] = (
    ("chronology-not-up-to-date", 3.0, -2.0),
    ("supervision-not-driving-plan", 2.0, 0.5),
    ("drift-and-delay", 3.0, -0.5),
    ("strategy-meeting-not-held", 1.5, -0.7),
    ("threshold-disagreement", 2.0, 0.0),
    ("plan-not-progressed", 2.0, 0.0),
    ("visits-not-done", 1.0, 0.0),
    ("core-group-not-functioning", 1.0, -0.3),
    ("father-not-engaged", 1.0, 0.0),
    ("transfer-delayed", 0.7, 0.0),
)
# Complaints a month (stage 1): (category, rate at t=0, change by t=1); communication rises
COMPLAINT_RATES: tuple[tuple[str, float, float], ...] = (
    ("communication", 3.0, 9.0),
    ("delay", 2.0, 0.0),
    ("quality-of-service", 2.0, 0.0),
    ("staff-conduct", 1.0, 0.0),
    ("decision-disagreement", 1.5, 0.0),
    ("case-transfer", 0.5, 0.0),
    ("other", 0.5, 0.0),
)
CPAS = tuple(f"CPA-{i:02d}" for i in range(1, 5))
IROS = tuple(f"IRO-{i:02d}" for i in range(1, 6))
COMPLAINTS_OFFICER = "CMP-DESK-01"
QA_ADMIN = "U-QA-SIM"

# Action owners reporting progress on the plan (area, action, status, owner, date)
MILESTONES: tuple[tuple[str, str, str, str, date], ...] = (
    ("strategy-meetings", "strategy-meetings.1", "in-progress", "first-response", date(2013, 4, 8)),
    ("supervision", "supervision.1", "in-progress", "dmg", date(2013, 4, 10)),
    ("timeliness-drift", "timeliness-drift.2", "in-progress", "dmg", date(2013, 4, 12)),
    ("case-transfer", "case-transfer.1", "in-progress", "dmg", date(2013, 4, 15)),
    ("responsiveness-to-families", "responsiveness-to-families.1", "in-progress", "dmg", date(2013, 4, 22)),
    ("timeliness-drift", "timeliness-drift.2", "done", "dmg", date(2013, 4, 26)),
    ("early-help", "early-help.1", "in-progress", "dmg", date(2013, 4, 29)),
    ("thresholds", "thresholds.1", "in-progress", "lscb", date(2013, 5, 1)),
    ("conference-core-group-roles", "conference-core-group-roles.1", "in-progress",
     "practice-development-partners", date(2013, 5, 7)),
    ("timeliness-drift", "timeliness-drift.1", "in-progress", "dmg", date(2013, 5, 14)),
    ("case-transfer", "case-transfer.1", "done", "dmg", date(2013, 5, 20)),
    ("chronologies", "chronologies.1", "in-progress", "dmg", date(2013, 6, 3)),
    ("supervision", "supervision.2", "in-progress", "dmg", date(2013, 6, 17)),
    ("professional-challenge", "professional-challenge.1", "in-progress", "dmg", date(2013, 7, 1)),
    ("conference-core-group-roles", "conference-core-group-roles.1", "done",
     "practice-development-partners", date(2013, 7, 25)),
    ("timeliness-drift", "timeliness-drift.1", "done", "dmg", date(2013, 8, 12)),
    ("fathers", "fathers.1", "in-progress", "dmg", date(2013, 9, 2)),
    ("supervision", "supervision.1", "blocked", "dmg", date(2013, 9, 30)),
    ("chronologies", "chronologies.1", "done", "dmg", date(2014, 1, 20)),
)


# ---------------------------------------------------------------------------------------------- dates

@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _bank_holidays(d.year)


def first_working_day(month: date) -> date:
    d = month.replace(day=1)
    while not is_working_day(d):
        d += timedelta(days=1)
    return d


def add_working_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            n -= 1
    return d


def add_months(d: date, n: int) -> date:
    total = d.year * 12 + d.month - 1 + n
    return date(total // 12, total % 12 + 1, 1)


def month_end(d: date) -> date:
    return add_months(d, 1) - timedelta(days=1)


def month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def trend_time(d: date) -> float:
    """0 in April 2013, 1 in March 2014 (clamped): where the council is on its improvement journey."""
    months = (d.year - PLAN_START.year) * 12 + d.month - PLAN_START.month
    return min(1.0, max(0.0, months / 11))


def noon(d: date) -> datetime:
    return datetime.combine(d, time(12, 0), tzinfo=UTC)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# ---------------------------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class CaseState:
    service: str
    team_id: str
    worker_id: str
    team_manager_id: str
    legal_status: str


@dataclass
class CaseRecord:
    case_id: str
    opened_on: date
    states: list[tuple[date, CaseState]]
    closed_on: date | None = None

    def state_on(self, d: date) -> CaseState:
        current = self.states[0][1]
        for since, state in self.states:
            if since <= d:
                current = state
        return current

    def open_between(self, first: date, last: date) -> bool:
        return self.opened_on < first and (self.closed_on is None or self.closed_on > last)


@dataclass(frozen=True)
class CaseEvent:
    """One case-system event: posted to allocation's intake as a contract envelope."""

    on: date
    event_id: str
    event_type: str  # case-opened | case-updated | case-closed
    service: str  # the case system that publishes it
    payload: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        at = noon(self.on).isoformat()
        return {
            "event_id": self.event_id, "event_type": self.event_type, "schema_version": 1,
            "occurred_at": at, "recorded_at": at, "source": f"case-system.{SHORT[self.service].lower()}",
            "correlation_id": self.event_id, "causation_id": None, "payload": self.payload,
        }


@dataclass(frozen=True)
class Auditor:
    auditor_id: str
    service: str
    is_lead: bool
    capacity: int
    manages_teams: tuple[str, ...] = ()
    absences: tuple[tuple[date, date], ...] = ()

    def body(self) -> dict[str, Any]:
        return {
            "service": self.service, "is_lead": self.is_lead, "capacity": self.capacity,
            "manages_teams": list(self.manages_teams),
            "absences": [{"starts_on": a.isoformat(), "ends_on": b.isoformat()} for a, b in self.absences],
            "active": True,
        }


@dataclass(frozen=True)
class Step:
    """One thing a member of staff does over HTTP on a simulated date.

    `entity` orders steps: those of one entity run in date order; different entities may run together.
    `actor` is (role, principal) of the token used; `service` the API called."""

    on: date
    entity: str
    service: str
    method: str
    path: str
    body: dict[str, Any]
    actor: tuple[str, str]


@dataclass(frozen=True)
class MonthPlan:
    month: str
    first_day: date
    as_of: date  # the draw is made as of the first working day
    draw_seed: int
    steps: tuple[Step, ...]  # escalations, complaints and milestones dated in the month
    case_events: tuple[CaseEvent, ...]  # what the case systems publish during the month


@dataclass(frozen=True)
class Plan:
    seed: int
    start: date
    roster: tuple[Auditor, ...]
    opening_cases: tuple[CaseEvent, ...]  # the caseload open at the start, published before the first draw
    months: tuple[MonthPlan, ...]
    end_as_of: date  # the first working day after the last month: the final overdue sweeps
    digest_as_of: date  # the last day of the last month: the Board digest with the year's totals
    digest_period: str
    open_cases_at_start: int
    stats: dict[str, int] = field(default_factory=dict)

    def actors(self) -> set[tuple[str, str, str]]:
        """(service, role, principal) of every token the run needs."""
        needed = {("allocation", "case-system", code) for code, *_ in SERVICES}
        needed |= {(s, "qa-admin", QA_ADMIN) for s in ("allocation", "audits", "escalations", "reporting", "actions")}
        for month in self.months:
            needed |= {(step.service, *step.actor) for step in month.steps}
        for auditor in self.roster:
            needed.add(("audits", "lead-auditor" if auditor.is_lead else "auditor", auditor.auditor_id))
        return needed


def build_plan(seed: int, *, months: int = 12, cases: int = 2500, start: date = PLAN_START,
               auditors_per_service: int = 6) -> Plan:
    """The whole simulated period as data. Pure: depends on its arguments only."""
    scale = cases / 2500
    rng_cases = random.Random(f"{seed}:cases")
    records, opening, monthly_events = _cases(rng_cases, cases, start, months)
    roster = _roster(random.Random(f"{seed}:roster"), start, months, auditors_per_service)
    rng_draw = random.Random(f"{seed}:draws")
    month_plans = []
    escalation_steps = _escalations(random.Random(f"{seed}:escalations"), records, start, months, scale)
    complaint_steps = _complaints(random.Random(f"{seed}:complaints"), records, start, months, scale)
    milestone_steps = _milestones(start, months)
    end = add_months(start, months)
    all_steps = [s for s in escalation_steps + complaint_steps + milestone_steps if s.on < end]
    for i in range(months):
        first = add_months(start, i)
        nxt = add_months(first, 1)
        steps = tuple(sorted((s for s in all_steps if first <= s.on < nxt), key=lambda s: (s.on, s.entity, s.path)))
        month_plans.append(MonthPlan(
            month=month_label(first), first_day=first, as_of=first_working_day(first),
            draw_seed=rng_draw.getrandbits(62), steps=steps, case_events=tuple(monthly_events[i]),
        ))
    stats = {
        "case_events": len(opening) + sum(len(m) for m in monthly_events),
        "escalations": sum(1 for s in escalation_steps if s.path == "/escalations" and s.on < end),
        "complaints": sum(1 for s in complaint_steps if s.path == "/complaints" and s.on < end),
        "milestones": sum(1 for s in milestone_steps if s.on < end),
        "steps": len(all_steps),
    }
    return Plan(seed=seed, start=start, roster=tuple(roster), opening_cases=tuple(opening), months=tuple(month_plans),
                end_as_of=first_working_day(end), digest_as_of=end - timedelta(days=1), digest_period=month_label(add_months(end, -1)),
                open_cases_at_start=cases, stats=stats)


def _new_state(rng: random.Random, service_index: int) -> CaseState:
    code, short, _, teams, statuses = SERVICES[service_index]
    team = rng.randint(1, teams)
    return CaseState(
        service=code, team_id=f"T-{short}-{team}", worker_id=f"W-{short}-{team}-{rng.randint(1, 8):02d}",
        team_manager_id=f"M-{short}-{team}", legal_status=_weighted(rng, statuses),
    )


def _opened_payload(case: CaseRecord) -> dict[str, Any]:
    s = case.states[0][1]
    return {"case_id": case.case_id, "service": s.service, "team_id": s.team_id, "worker_id": s.worker_id,
            "team_manager_id": s.team_manager_id, "legal_status": s.legal_status,
            "opened_on": case.opened_on.isoformat()}


def _cases(rng: random.Random, n: int, start: date, months: int
           ) -> tuple[list[CaseRecord], list[CaseEvent], list[list[CaseEvent]]]:
    shares = [s[2] for s in SERVICES]
    records: list[CaseRecord] = []
    counter = 0

    def new_case(opened_on: date) -> CaseRecord:
        nonlocal counter
        counter += 1
        index = rng.choices(range(len(SERVICES)), weights=shares)[0]
        record = CaseRecord(f"C-{counter:06d}", opened_on, [(opened_on, _new_state(rng, index))])
        records.append(record)
        return record

    opening: list[CaseEvent] = []
    for _ in range(n):
        # most open cases were opened in the last year or two; some long-running ones years ago
        days_back = int(min(1400, rng.expovariate(1 / 260))) + 1
        case = new_case(start - timedelta(days=days_back))
        opening.append(CaseEvent(case.opened_on, _uuid(rng), "case-opened", case.states[0][1].service,
                                 _opened_payload(case)))
    opening.sort(key=lambda e: (e.on, e.payload["case_id"]))

    monthly: list[list[CaseEvent]] = []
    open_cases = list(records)
    for i in range(months):
        first = add_months(start, i)
        days = (month_end(first) - first).days + 1
        events: list[CaseEvent] = []
        # closures
        closing = rng.sample(open_cases, k=_poisson(rng, CLOSE_RATE * len(open_cases)) if open_cases else 0)
        closed_ids = set()
        for case in closing:
            closed_on = max(first + timedelta(days=rng.randrange(days)), case.opened_on + timedelta(days=1))
            if closed_on > month_end(first):
                continue
            case.closed_on = closed_on
            closed_ids.add(case.case_id)
            events.append(CaseEvent(closed_on, _uuid(rng), "case-closed", case.state_on(closed_on).service,
                                    {"case_id": case.case_id, "closed_on": closed_on.isoformat()}))
        open_cases = [c for c in open_cases if c.case_id not in closed_ids]
        # transfers and changes of worker (at most one a month per case)
        for case in rng.sample(open_cases, k=min(len(open_cases), _poisson(rng, 0.02 * len(open_cases)))):
            on = first + timedelta(days=rng.randrange(days))
            if on <= case.opened_on:
                continue
            old = case.state_on(on)
            if old.service == "first-response" and rng.random() < 0.6:
                new = _new_state(rng, 1)  # stepped up to safeguarding and support
            else:
                team = old.team_id.rsplit("-", 1)[1]
                new = CaseState(old.service, old.team_id, f"W-{SHORT[old.service]}-{team}-{rng.randint(1, 8):02d}",
                                old.team_manager_id, old.legal_status)
            case.states.append((on, new))
            events.append(CaseEvent(on, _uuid(rng), "case-updated", new.service, {
                "case_id": case.case_id, "service": new.service, "team_id": new.team_id, "worker_id": new.worker_id,
                "team_manager_id": new.team_manager_id, "legal_status": new.legal_status}))
        # openings keep the caseload about level
        for _ in range(_poisson(rng, CLOSE_RATE * n)):
            case = new_case(first + timedelta(days=rng.randrange(days)))
            open_cases.append(case)
            events.append(CaseEvent(case.opened_on, _uuid(rng), "case-opened", case.states[0][1].service,
                                    _opened_payload(case)))
        events.sort(key=lambda e: (e.on, e.payload["case_id"], e.event_type))
        monthly.append(events)
    return records, opening, monthly


def _roster(rng: random.Random, start: date, months: int, per_service: int) -> list[Auditor]:
    roster = []
    for code, short, _, teams, _ in SERVICES:
        for i in range(1, per_service + 1):
            is_lead = i == 1
            # some auditors are team managers of their service (never allocated their teams' cases)
            manages = (f"T-{short}-{i - 1}",) if 2 <= i <= teams + 1 and i % 2 == 0 else ()
            absences = []
            if rng.random() < 0.35:  # a week or two of leave somewhere in the year
                first = start + timedelta(days=rng.randrange(max(1, months * 30 - 14)))
                absences.append((first, first + timedelta(days=rng.choice((4, 11)))))
            roster.append(Auditor(f"A-{short}-{i:02d}", code, is_lead, 1 if is_lead else 2, manages, tuple(absences)))
    return roster


def _eligible(records: list[CaseRecord], first: date, last: date, services: set[str], statuses: set[str] | None
              ) -> list[CaseRecord]:
    out = []
    for case in records:
        if not case.open_between(first, last):
            continue
        state = case.state_on(first)
        if state.service in services and (statuses is None or state.legal_status in statuses):
            out.append(case)
    return out


def _working_day_in(rng: random.Random, first: date) -> date:
    days = [first + timedelta(days=k) for k in range((month_end(first) - first).days + 1)]
    return rng.choice([d for d in days if is_working_day(d)])


def _escalations(rng: random.Random, records: list[CaseRecord], start: date, months: int, scale: float) -> list[Step]:
    steps: list[Step] = []
    n = 0
    for i in range(months):
        first = add_months(start, i)
        t = trend_time(first)
        # candidates: open since before the month, and for two months more (so the chain is on an open case)
        cpa_cases = _eligible(records, first, first + timedelta(days=100),
                              {"safeguarding-and-support", "first-response", "disabled-children", "safeguarding-and-qa"},
                              {"child-protection", "child-in-need"})
        iro_cases = _eligible(records, first, first + timedelta(days=100),
                              {"children-in-care", "fostering-and-adoption", "disabled-children"},
                              {"looked-after", "adoption"})
        for reason, rate, change in ESCALATION_RATES:
            for _ in range(_poisson(rng, (rate + change * t) * scale)):
                n += 1
                role = "iro" if rng.random() < 0.45 else "cpa"
                pool = iro_cases if role == "iro" else cpa_cases
                if not pool:
                    continue
                case = rng.choice(pool)
                who = rng.choice(IROS if role == "iro" else CPAS)
                esc_id = f"ESC-{n:05d}"
                raised = _working_day_in(rng, first)
                actor = (role, who)
                steps.append(Step(raised, esc_id, "escalations", "POST", "/escalations",
                                  {"escalation_id": esc_id, "case_id": case.case_id, "reason": reason,
                                   "raised_on": raised.isoformat()}, actor))
                path = f"/escalations/{esc_id}"
                roll, on = rng.random(), raised
                if roll < 0.05:
                    on = add_working_days(on, rng.randint(1, 4))
                    steps.append(Step(on, esc_id, "escalations", "POST", f"{path}/withdraw",
                                      {"withdrawn_on": on.isoformat()}, actor))
                    continue
                stages = 0 if roll < 0.72 else (1 if roll < 0.94 else 2)
                state = case.state_on(raised)
                managers = (state.team_manager_id, f"SM-{SHORT[state.service]}")  # team, then service manager
                for stage in range(stages):
                    on = add_working_days(on, rng.randint(2, 7))
                    steps.append(Step(on, esc_id, "escalations", "POST", f"{path}/progress",
                                      {"progressed_on": on.isoformat(), "addressed_to_manager_id": managers[stage]},
                                      actor))
                on = add_working_days(on, rng.choice((1, 2, 3, 3, 4, 4, 5, 5, 6, 8)))
                outcome = rng.choice(("resolved", "resolved", "plan-changed", "referred-on"))
                steps.append(Step(on, esc_id, "escalations", "POST", f"{path}/resolve",
                                  {"resolved_on": on.isoformat(), "outcome": outcome}, actor))
    return steps


def _complaints(rng: random.Random, records: list[CaseRecord], start: date, months: int, scale: float) -> list[Step]:
    steps: list[Step] = []
    n = 0
    actor = ("complaints", COMPLAINTS_OFFICER)
    all_services = {code for code, *_ in SERVICES}
    for i in range(months):
        first = add_months(start, i)
        t = trend_time(first)
        candidates = _eligible(records, first, first + timedelta(days=160), all_services, None)
        for category, rate, change in COMPLAINT_RATES:
            for _ in range(_poisson(rng, (rate + change * t) * scale)):
                if not candidates:
                    continue
                n += 1
                complaint_id = f"CMP-{n:05d}"
                case = rng.choice(candidates)
                received = _working_day_in(rng, first)
                steps.append(Step(received, complaint_id, "escalations", "POST", "/complaints",
                                  {"complaint_id": complaint_id, "category": category, "case_id": case.case_id,
                                   "received_on": received.isoformat()}, actor))
                path = f"/complaints/{complaint_id}"
                on = received
                # stage 1: ten working days, mostly kept; then perhaps stage 2 (25) and the review panel (30)
                for stage, (quick, slow) in enumerate(((3, 14), (12, 32), (15, 34))):
                    on = add_working_days(on, rng.randint(quick, slow))
                    outcome = rng.choice(("not-upheld", "partly-upheld", "upheld", "not-upheld"))
                    steps.append(Step(on, complaint_id, "escalations", "POST", f"{path}/resolve",
                                      {"resolved_on": on.isoformat(), "outcome": outcome}, actor))
                    if stage == 2 or outcome == "upheld" or rng.random() > (0.16 if stage == 0 else 0.2):
                        break
                    on = add_working_days(on, rng.randint(2, 8))
                    steps.append(Step(on, complaint_id, "escalations", "POST", f"{path}/escalate",
                                      {"requested_on": on.isoformat()}, actor))
    return steps


def _milestones(start: date, months: int) -> list[Step]:
    end = add_months(start, months)
    return [
        Step(on, f"{area}:{action}", "actions", "POST", f"/actions/plan/areas/{area}/actions/{action}/milestones",
             {"status": status, "updated_on": on.isoformat()}, ("action-owner", owner))
        for area, action, status, owner, on in MILESTONES if start <= on < end
    ]


# ---------------------------------------------------------------------------------------------- audits

@dataclass(frozen=True)
class AllocatedAudit:
    """What the auditor knows of an allocated audit (from the allocation run)."""

    audit_id: str
    service: str
    auditor_id: str
    lead_auditor_id: str
    allocated_on: date
    due_on: date


@dataclass(frozen=True)
class AuditOutcome:
    completed_on: date
    late: bool
    submitted_by: str  # the auditor, or the lead auditor for some late ones
    body: dict[str, Any]


def audit_outcome(seed: int, audit: AllocatedAudit) -> AuditOutcome | None:
    """Whether, when and how an allocated audit is completed: a pure function of the seed and the audit.

    About 5% are never completed, 12% are completed late (in the first fortnight of the next month,
    after its overdue sweep), the rest within their month."""
    rng = random.Random(f"{seed}:audit:{audit.audit_id}")
    roll = rng.random()
    if roll < 0.05:
        return None
    late = roll < 0.17
    if late:
        after = first_working_day(audit.due_on + timedelta(days=1))
        completed_on = after + timedelta(days=rng.randint(1, 12))
    else:
        span = max(0, (audit.due_on - audit.allocated_on).days)
        completed_on = audit.allocated_on + timedelta(days=rng.randint(min(2, span), span))
    t = trend_time(audit.allocated_on)
    service = audit.service
    looked_after = service in {"children-in-care", "fostering-and-adoption"}
    answers = []
    no_answers = set()
    for question, (p0, change) in ANSWER_TRENDS.items():
        if question == "permanence-plan-in-place" and not looked_after:
            answer = "not-applicable"
        elif question == "core-group-roles-clear" and service not in {"safeguarding-and-support", "safeguarding-and-qa"}:
            answer = "not-applicable"
        elif question == "early-help-offered" and looked_after:
            answer = "not-applicable"
        elif question == "fathers-included" and rng.random() < 0.08:
            answer = "not-applicable"
        else:
            answer = "yes" if rng.random() < p0 + change * t else "no"
        if answer == "no":
            no_answers.add(question)
        answers.append({"question_id": question, "answer": answer})
    domains = []
    for domain, (themes, (p_out, p_good, p_ri), shift) in DOMAINS.items():
        if domain == "adoption-pathway-plan" and not looked_after:
            continue
        p_good_t = p_good + shift * t
        grade = rng.choices(GRADES, weights=(p_out, p_good_t, max(0.0, p_ri - shift * t),
                                             max(0.0, 1 - p_out - p_good_t - max(0.0, p_ri - shift * t))))[0]
        findings = []
        pointed = [QUESTION_THEME[q] for q in sorted(no_answers) if q in QUESTION_THEME and QUESTION_THEME[q] in themes]
        if grade == "outstanding":
            findings.append({"theme": rng.choice(themes), "severity": "strength"})
        elif grade in ("requires-improvement", "inadequate"):
            theme = pointed[0] if pointed else rng.choice(themes)
            severity = "serious" if grade == "inadequate" else rng.choice(("minor", "significant"))
            findings.append({"theme": theme, "severity": severity})
        domains.append({"domain": domain, "grade": grade, "themes": findings})
    body = {
        "completed_at": noon(completed_on).isoformat(),
        "domains": domains,
        "answers": answers,
        "social_worker_participated": rng.random() < 0.85,
        "parents_spoken_to": rng.random() < 0.6,
        "child_spoken_to": rng.random() < 0.5,
        "safeguarding_concern": rng.random() < 0.02,
    }
    submitted_by = audit.lead_auditor_id if late and rng.random() < 0.25 else audit.auditor_id
    return AuditOutcome(completed_on, late, submitted_by, body)
