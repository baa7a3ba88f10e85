"""A shortened simulated year (three months, a smaller council) played through the public APIs against the
five services on the real broker and database: allocations are made, completed audits reach reporting's
figures exactly, a drifting area is flagged, a Board digest is produced, and the same seed gives the same
draws, figures and digest counts in a second, separate environment."""

from __future__ import annotations

import importlib
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from qaf_shared.kafka import ensure_topics
from qaf_shared.settings import KafkaSettings
from qaf_simulator.driver import Driver, Lag, Outcome
from qaf_simulator.generator import QA_ADMIN, build_plan
from qaf_simulator.setup import SERVICES, create_tokens
from tests.support.services import running

pytestmark = pytest.mark.integration

SEED = 7
MONTHS = 3  # April to June 2013
CASES = 300
SAMPLE = 12
# what `make demo` sets through the environment (qaf_simulator.setup.EVENT_TIME_ENV), as settings
EVENT_TIME = {
    "allocation": {"scheduler_enabled": False, "sample_size": SAMPLE},
    "audits": {"clock": "event"},
    "escalations": {"overdue_sweep_basis": "latest-event"},
    "reporting": {},
    "actions": {"clock": "event", "schedule_enabled": False},
}


@dataclass
class Run:
    outcome: Outcome
    figures: list[dict[str, Any]]
    drift: dict[str, Any]
    digests: list[dict[str, Any]]
    pdf: bytes


async def _fresh_database(admin_url: str) -> str:
    name = "sim_" + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def simulate(admin_url: str, bootstrap: str, seed: int) -> Run:
    """One run in its own database and topic prefix, services in-process with the demo's event-time settings."""
    database_url = await _fresh_database(admin_url)
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix="s" + uuid.uuid4().hex[:10] + ".")
    await ensure_topics(kafka)
    plan = build_plan(seed, months=MONTHS, cases=CASES)
    async with AsyncExitStack() as stack:
        services = {}
        for name in SERVICES:
            app = importlib.import_module(f"qaf_{name}.app")
            settings = app.definition().settings.model_copy(
                update={"database_url": database_url, "kafka": kafka, **EVENT_TIME[name]})
            services[name] = await stack.enter_async_context(running(app.definition(settings)))
        tokens = await create_tokens(database_url, plan.actors())
        lag = Lag(bootstrap, kafka.topic_prefix)
        await lag.start()
        stack.push_async_callback(lag.stop)
        outcome = await Driver(plan, {n: s.http for n, s in services.items()}, tokens, lag).run()

        def admin(service: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[(service, 'qa-admin', QA_ADMIN)]}"}

        reporting, actions = services["reporting"].http, services["actions"].http
        figures = (await reporting.get("/reports/figures", params={"period_end": "2013-06", "window": 3, "service": "all"},
                                       headers=admin("reporting"))).json()["figures"]
        drift = (await actions.get("/actions/drift", headers=admin("actions"))).json()
        digests = (await actions.get("/actions/digests", headers=admin("actions"))).json()
        pdf = (await actions.get(f"/actions/digests/{outcome.digest['digest_id']}.pdf", headers=admin("actions"))).content
    return Run(outcome, figures, drift, digests, pdf)


def _figure(run: Run, measure: str, **match: Any) -> dict[str, Any]:
    found = [f for f in run.figures if f["measure"] == measure and all(f[k] == v for k, v in match.items())]
    assert len(found) == 1, (measure, match, found)
    return found[0]


def _comparable(run: Run) -> list[tuple[Any, ...]]:
    return sorted((f["theme"], f["measure"], f["question_id"] or "", f["category"] or "", f["count"], f["denominator"])
                  for f in run.figures)


async def test_a_shortened_year_reaches_every_service_and_the_same_seed_gives_the_same_results(
    pg_admin_url: str, kafka_bootstrap: str
) -> None:
    first = await simulate(pg_admin_url, kafka_bootstrap, SEED)
    outcome = first.outcome

    # the monthly draws were made, and most audits completed, some late, some never
    assert sorted(outcome.allocations) == ["2013-04", "2013-05", "2013-06"]
    assert all(len(ids) == SAMPLE for ids in outcome.allocations.values())
    drawn = sum(len(ids) for ids in outcome.allocations.values())
    assert outcome.completed + outcome.never + sum(
        1 for ids in outcome.allocations["2013-06"] if ids not in outcome.completions) >= drawn
    assert outcome.late > 0 and outcome.completed > drawn * 0.7

    # every completion dated April to June reached reporting: one answer per audit to the chronology question
    in_window = sum(1 for d in outcome.completions.values() if date(2013, 4, 1) <= d <= date(2013, 6, 30))
    chronology = _figure(first, "indicator-yes", question_id="chronology-up-to-date")
    assert chronology["denominator"] == in_window
    supervision = _figure(first, "indicator-yes", question_id="supervision-regular-reflective")
    assert supervision["rate"] < 45  # the area the plan wants above 45% stays below it
    assert any(f["measure"] == "complaint" and f["category"] == "communication" for f in first.figures)

    # drift: supervision's policy (due February 2013) is never done, so the area is flagged and stays flagged
    flagged = {(e["area_id"], e["kind"]) for e in first.drift["events"] if e["change"] == "flagged"}
    assert ("supervision", "milestone") in flagged
    assert {"area_id": "supervision", "kind": "milestone", "subject_id": "supervision.1"} in first.drift["active"]

    # the Board digest of June, as a PDF
    assert outcome.digest is not None and outcome.digest["period"] == "2013-06"
    assert outcome.digest["summary"]["areas"]["supervision"] == "drifting"
    assert first.pdf.startswith(b"%PDF")

    # the same seed, a separate environment: the same draws, figures and digest counts
    second = await simulate(pg_admin_url, kafka_bootstrap, SEED)
    assert second.outcome.allocations == outcome.allocations
    assert second.outcome.completions == outcome.completions
    assert _comparable(second) == _comparable(first)
    assert second.outcome.digest["summary"]["ops"] == outcome.digest["summary"]["ops"]
