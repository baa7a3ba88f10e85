"""Reporting on the real broker and database: a known set of events in, exact figures out; duplicates
and late events; theme-updated messages valid against the contract; a replay into an empty schema gives
identical figures; the HTTP reports."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import pytest

from qaf_shared import topics
from qaf_shared.envelope import decode
from qaf_shared.months import Month
from qaf_shared.settings import KafkaSettings
from qaf_shared.unit_of_work import PostgresUnitOfWork
from qaf_shared.vocabulary import Answer, ComplaintStage, EscalationReason, Grade, Severity, Theme
from qaf_reporting import usecases
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.app import definition
from qaf_reporting.domain import dashboard
from qaf_reporting.entrypoints.replay import replay_from_zero
from qaf_reporting.settings import ReportingSettings
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.services import running
from tests.unit.reporting import factories as f
from tests.unit.reporting.factories import CIC, FR, SS

pytestmark = pytest.mark.integration

OCT = "2013-10"


def settings(database_url: str, kafka: KafkaSettings) -> ReportingSettings:
    return ReportingSettings(
        database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2, flush_interval_ms=200,
        outbox_poll_interval_s=0.1,
    )


def scenario() -> tuple[list[Any], list[Any]]:
    """(events, late events). Every figure asserted below follows from these by hand."""
    d = date
    a1 = f.envelope(f.audit_completed(
        "A1", FR, d(2013, 10, 15), month=OCT,
        themes=[(Theme.SUPERVISION, Severity.SIGNIFICANT), (Theme.RECORDING, Severity.STRENGTH)],
        answers=[("chronology-up-to-date", Theme.CHRONOLOGIES, Answer.YES)],
        grades={"assessment": Grade.GOOD, "supervision": Grade.REQUIRES_IMPROVEMENT},
        overall=Grade.REQUIRES_IMPROVEMENT,
    ), d(2013, 10, 15))
    a1_again = f.envelope(f.audit_completed(  # the same audit published again: counted once
        "A1", FR, d(2013, 10, 16), month=OCT, themes=[(Theme.FATHERS, Severity.SERIOUS)],
    ), d(2013, 10, 16))
    events = [
        f.envelope(f.case_opened("C-1", FR, d(2013, 5, 10)), d(2013, 5, 10)),
        f.envelope(f.case_opened("C-2", FR, d(2013, 9, 2)), d(2013, 9, 2)),
        f.envelope(f.case_opened("C-3", FR, d(2013, 10, 1)), d(2013, 10, 1)),
        f.envelope(f.case_closed("C-3", d(2013, 10, 20)), d(2013, 10, 20)),
        f.envelope(f.case_opened("C-4", SS, d(2013, 1, 5)), d(2013, 1, 5)),
        f.envelope(f.case_closed("C-4", d(2013, 6, 30)), d(2013, 6, 30)),
        f.envelope(f.case_opened("C-5", SS, d(2013, 2, 1)), d(2013, 2, 1)),
        f.envelope(f.case_updated("C-5", FR), d(2013, 8, 1)),  # transferred: counts under FR
        *(f.envelope(f.allocated(a, s, OCT), d(2013, 10, 1)) for a, s in
          (("A1", FR), ("A2", FR), ("A3", SS), ("A4", FR))),
        a1, a1, a1_again,
        f.envelope(f.audit_completed(
            "A2", FR, d(2013, 10, 20), month=OCT,
            themes=[(Theme.SUPERVISION, Severity.MINOR), (Theme.SUPERVISION, Severity.SERIOUS),
                    (Theme.DIRECT_WORK, Severity.SIGNIFICANT)],
            answers=[("chronology-up-to-date", Theme.CHRONOLOGIES, Answer.NO)],
            overall=Grade.INADEQUATE, child_spoken_to=False,
        ), d(2013, 10, 20)),
        f.envelope(f.concern("PC-1", "A2", FR, d(2013, 10, 21), ["supervision", "unknown-domain"]), d(2013, 10, 21)),
        f.envelope(f.overdue("A4", FR, d(2013, 10, 28)), d(2013, 10, 29)),
        f.envelope(f.escalation("E-1", FR, d(2013, 10, 3)), d(2013, 10, 3)),
        f.envelope(f.escalation("E-2", FR, d(2013, 10, 8), Theme.STRATEGY_MEETINGS,
                                EscalationReason.STRATEGY_MEETING_NOT_HELD), d(2013, 10, 8)),
        f.envelope(f.escalation_resolved("E-1", FR, d(2013, 10, 12), in_time=True), d(2013, 10, 12)),
        f.envelope(f.complaint("CP-1", FR, d(2013, 10, 4)), d(2013, 10, 4)),
        f.envelope(f.complaint_resolved("CP-1", FR, d(2013, 10, 18), in_time=False), d(2013, 10, 18)),
        f.envelope(f.complaint("CP-1", FR, d(2013, 10, 25), stage=ComplaintStage.STAGE_2), d(2013, 10, 25)),
        # dated 1900: never countable, dead-lettered with the reason
        f.envelope(f.audit_completed("A-OLD", CIC, d(1900, 1, 2)), d(2013, 10, 2)),
    ]
    late = [  # an audit completed in September, arriving after October's figures were published
        f.envelope(f.audit_completed(
            "A3", SS, d(2013, 9, 25),
            themes=[(Theme.SUPERVISION, Severity.MINOR), (Theme.CHILDREN_IN_NEED, Severity.SIGNIFICANT)],
            answers=[("chronology-up-to-date", Theme.CHRONOLOGIES, Answer.NOT_APPLICABLE)],
        ), d(2013, 9, 25)),
    ]
    return events, late


def summary(figures: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(x["theme"], x["measure"], x["question_id"], x["category"], x["count"], x["denominator"], x["rate"])
            for x in figures}


EXPECTED_OCTOBER_ALL = {
    ("supervision", "audit-theme", None, None, 2, 2, 100.0),
    ("direct-work", "audit-theme", None, None, 1, 2, 50.0),
    ("chronologies", "indicator-yes", "chronology-up-to-date", None, 1, 2, 50.0),
    ("supervision", "practice-concern", None, None, 1, 2, 50.0),
    ("timeliness-drift", "audit-overdue", None, None, 1, 4, 25.0),
    # open cases at any time in October: C-1, C-2, C-3 (closed on the 20th), C-5 (transferred to FR)
    ("timeliness-drift", "escalation", None, None, 1, 4, 25.0),
    ("timeliness-drift", "escalation", None, "drift-and-delay", 1, 4, 25.0),
    ("strategy-meetings", "escalation", None, None, 1, 4, 25.0),
    ("strategy-meetings", "escalation", None, "strategy-meeting-not-held", 1, 4, 25.0),
    ("timeliness-drift", "escalation-in-time", None, None, 1, 1, 100.0),
    ("timeliness-drift", "escalation-in-time", None, "drift-and-delay", 1, 1, 100.0),
    ("responsiveness-to-families", "complaint", None, None, 1, 4, 25.0),
    ("responsiveness-to-families", "complaint", None, "communication", 1, 4, 25.0),
    ("responsiveness-to-families", "complaint-in-time", None, None, 0, 1, 0.0),
    ("responsiveness-to-families", "complaint-in-time", None, "communication", 0, 1, 0.0),
}


async def compute_figures(pool: asyncpg.Pool, scope: str, window: int, period_end: int) -> list[Any]:
    """The figures of a window, read as the API reads them."""
    uow = PostgresUnitOfWork(pool, Repository)
    return (await usecases.figures(uow, scope=scope, window=window, period_end=Month(period_end))).figures


async def test_known_events_give_exact_figures_published_coalesced_and_rebuilt_identically_by_replay(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    events, late = scenario()
    unique = {e.event_id for e in events + late} - {events[-1].event_id}
    reporting = definition(settings(database_url, kafka_settings))
    async with running(reporting) as service:
        pool = service.runtime.pool
        await produce(kafka_settings, *events)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = 'reporting'"), timeout=60)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", len(unique) - 1), timeout=60)
        # October's figures are published before the late September audit arrives
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) > 0 FROM published_figures WHERE period_end = $1", 2013 * 12 + 9))
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM dirty_cells"))
        await produce(kafka_settings, *late)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", len(unique)))
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM dirty_cells"))

        headers = await service.token("T-PERF", "reporting")
        october = (await service.http.get("/reports/figures", params={"period_end": OCT, "window": 1},
                                          headers=headers)).json()
        assert summary(october["figures"]) == EXPECTED_OCTOBER_ALL
        quarter = (await service.http.get("/reports/figures", params={"period_end": OCT, "window": 3,
                                                                       "measure": "audit-theme"}, headers=headers))
        # the late September audit counts in its own month: 3 audits from August to October
        assert summary(quarter.json()["figures"]) == {
            ("supervision", "audit-theme", None, None, 3, 3, 100.0),
            ("direct-work", "audit-theme", None, None, 1, 3, 33.33),
            ("children-in-need", "audit-theme", None, None, 1, 3, 33.33),
        }
        half_year_ss = (await service.http.get(
            "/reports/figures", params={"period_end": OCT, "window": 6, "service": SS.value, "measure": "audit-theme"},
            headers=headers)).json()
        assert summary(half_year_ss["figures"]) == {
            ("supervision", "audit-theme", None, None, 1, 1, 100.0),
            ("children-in-need", "audit-theme", None, None, 1, 1, 100.0),
        }
        dead = await pool.fetch("SELECT reason FROM dead_letters")
        assert [r["reason"] for r in dead] == ["audit-completed month falls outside 1990-2100: not a plausible date"]

        # theme-updated: valid against the contract; the last message per figure carries its final value
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
        published = await pool.fetchval("SELECT count(*) FROM outbox")
        records = await read_topic(kafka_settings, topics.THEMES.name, expect=published)
        assert len(records) == published
        latest: dict[tuple[Any, ...], Any] = {}
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            message = decode(record.value, expected_topic=topics.THEMES.name)
            p = message.payload
            assert record.key == p.theme.encode()
            key = (p.theme.value, p.measure, p.question_id, p.category, p.service, p.window_months, p.period_end)
            latest[key] = p
        supervision = latest[("supervision", "audit-theme", None, None, "all", 3, OCT)]
        assert (supervision.count, supervision.denominator, supervision.rate) == (3, 3, 100.0)
        assert (supervision.previous_count, supervision.previous_rate, supervision.delta) == (2, 100.0, 0.0)
        for key, message in latest.items():
            if key[5] == 1 and key[4] == "all" and key[6] == OCT:
                assert (key[0], key[1], key[2], key[3], message.count, message.denominator, message.rate) in (
                    EXPECTED_OCTOBER_ALL
                )
        assert {(k[0], k[1], k[2], k[3]) for k in latest if k[5] == 1 and k[4] == "all" and k[6] == OCT} == {
            e[:4] for e in EXPECTED_OCTOBER_ALL
        }
        # the dashboard reads sums with only the dimensions it tells apart: the same series as from all of them
        for scope in ("all", FR.value, SS.value):
            start, end = dashboard.first_month_needed(2013 * 12 + 9), 2013 * 12 + 9
            lean = await Repository(pool).monthly_sums_reading(dashboard.READS, scope, start, end)
            every_dimension = {kind: ("theme", "k1", "k2") for kind in dashboard.KINDS}
            full = await Repository(pool).monthly_sums_reading(every_dimension, scope, start, end)
            assert sum(map(len, lean.values())) < sum(map(len, full.values())) or scope != "all"
            assert dashboard.series(end, lean) == dashboard.series(end, full)
        before = await Repository(pool).snapshot()
        figures_before = {w: await compute_figures(pool, "all", w, 2013 * 12 + 9) for w in (1, 3, 6, 12)}

    # batches of two: many in flight one after another (pipelined), first sightings and case states in order
    small_batches = definition(settings(database_url, kafka_settings).model_copy(update={"replay_batch_size": 2}))
    stats = await replay_from_zero(small_batches)
    assert stats.batch.applied == len(unique)
    assert stats.batch.dead_lettered == 1
    # the replay rebuilt the very figures subscribers were told: it publishes nothing
    assert stats.published == 0
    async with running(reporting) as service:
        pool = service.runtime.pool
        assert await Repository(pool).snapshot() == before
        assert {w: await compute_figures(pool, "all", w, 2013 * 12 + 9) for w in (1, 3, 6, 12)} == figures_before
        # the group resumes after the replay: an event sent now is applied once, nothing before it again
        await produce(kafka_settings, f.envelope(f.escalation("E-3", FR, date(2013, 10, 30)), date(2013, 10, 30)))
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", len(unique) + 1))
        await asyncio.sleep(1.0)
        assert await pool.fetchval(
            "SELECT sum(n) FROM monthly_counts WHERE kind = 'escalation' AND month = $1", 2013 * 12 + 9) == 3
        assert await pool.fetchval("SELECT sum(n) FROM monthly_counts WHERE kind = 'audit'") == 3

    # coalescing: once nothing has been published (a new subscriber's view), all the events above give
    # exactly one message per figure, carrying its final value
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting"})
    try:
        await conn.execute("TRUNCATE published_figures")
        await conn.execute("DELETE FROM outbox")
    finally:
        await conn.close()
    stats = await replay_from_zero(reporting)
    assert stats.published == len(latest)  # E-3 changed figures, but added none
