"""Bench: the monthly draw over 50,000 open cases and 300 auditors (pure domain function).

    uv run python bench/bench_allocation.py [--repeat 5]

Prints the timings and writes them to bench/results/allocation.json. Goal: under 1 s per draw.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path

from qaf_shared.vocabulary import LegalStatus, Service

from qaf_allocation.domain.draw import draw
from qaf_allocation.domain.model import Absence, Auditor, Case, DrawSettings

RESULTS = Path(__file__).parent / "results" / "allocation.json"
CASES, AUDITORS, TEAMS_PER_SERVICE = 50_000, 300, 12
WEIGHTS = [30, 25, 20, 8, 12, 5]
T0 = datetime(2013, 1, 1, tzinfo=UTC)


def population(rnd: random.Random) -> list[Case]:
    services = list(Service)
    out = []
    for i in range(CASES):
        service = rnd.choices(services, WEIGHTS)[0]
        team = rnd.randrange(TEAMS_PER_SERVICE)
        closed = date(2013, rnd.randint(4, 9), 1) if rnd.random() < 0.2 else None
        out.append(Case(f"C-{i:06d}", service, f"T-{service.value}-{team}", f"W-{rnd.randrange(1500)}",
                        f"M-{service.value}-{team}", LegalStatus.CHILD_IN_NEED, date(2012, rnd.randint(1, 12), 1),
                        closed, T0, T0))
    return out


def roster(rnd: random.Random) -> list[Auditor]:
    services = list(Service)
    out = []
    for j in range(AUDITORS):
        service = services[j % len(services)]
        k = j // len(services)
        teams = frozenset({f"T-{service.value}-{k}"}) if k < TEAMS_PER_SERVICE else frozenset()
        absences = (Absence(date(2013, 10, 7), date(2013, 10, 18)),) if rnd.random() < 0.1 else ()
        out.append(Auditor(f"M-{service.value}-{k}", service, teams, is_lead=(k == 0), capacity=rnd.randint(1, 3),
                           absences=absences))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rnd = random.Random(2013)
    cases, auditors = population(rnd), roster(rnd)
    recent = {c.case_id for c in rnd.sample(cases, 2_000)}
    prior = {a.auditor_id: rnd.randint(0, 6) for a in auditors}
    timings = []
    result = None
    for seed in range(args.repeat):
        start = time.perf_counter()
        result = draw(cases, auditors, DrawSettings(), month="2013-10", as_of=date(2013, 10, 1), seed=seed,
                      recently_audited=recent, prior_load=prior)
        timings.append(time.perf_counter() - start)
    assert result is not None
    report = {
        "bench": "allocation draw",
        "cases": CASES,
        "auditors": AUDITORS,
        "open_in_window": result.stats["open"],
        "eligible": result.stats["eligible"],
        "allocated": len(result.allocations),
        "repeat": args.repeat,
        "seconds": {"min": round(min(timings), 4), "median": round(statistics.median(timings), 4),
                    "max": round(max(timings), 4)},
        "goal_seconds": 1.0,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"draw over {CASES} cases and {AUDITORS} auditors: {len(result.allocations)} allocated; "
          f"median {report['seconds']['median']:.3f}s (min {report['seconds']['min']:.3f}s, "
          f"max {report['seconds']['max']:.3f}s) over {args.repeat} runs -> {RESULTS}")


if __name__ == "__main__":
    main()
