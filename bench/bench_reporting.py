"""Reporting: replay of 200,000 mixed events against a bare consumer; report and dashboard queries.

    uv run python -m bench.run reporting

1. Produces N events (a realistic mix: cases, allocations, completed audits with themes and indicator
   answers, concerns, overdue audits, escalations, complaints) spread over ten years of months, onto
   the real topics of the run's broker.
2. Reads them with a bare aiokafka consumer doing nothing with them: the baseline.
3. Replays them through the reporting consumer (`replay_into`: decode, validate, apply exactly once in
   batched transactions into PostgreSQL, commit offsets): the figure, and its ratio to (2).
4. Checks the counters against totals computed here from the generated events (independently of the
   service's rules), and that a second replay (profiled) rebuilds exactly the same counters; a
   difference fails the run.
5. Times the report and dashboard queries over the ten years of monthly buckets: p50 / p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaConsumer

from bench.harness import BenchContext, Figure, new_profiler, top_frames
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.kafka import client_options, ensure_topics, make_producer
from qaf_shared.months import Month
from qaf_shared.runtime import tune_gc
from qaf_shared.unit_of_work import PostgresUnitOfWork
from qaf_shared.vocabulary import (
    Answer, ComplaintCategory, EscalationReason, Grade, Service, Severity, Theme,
)

from qaf_reporting import handlers, usecases
from qaf_reporting.adapters.repository import Repository
from qaf_reporting.app import TOPICS, definition
from qaf_reporting.domain import dashboard
from qaf_reporting.entrypoints.replay import partitions_of, replay_into
from qaf_reporting.settings import ReportingSettings

EVENTS = int(os.environ.get("QAF_BENCH_REPORTING_EVENTS", "200000"))
BATCH = int(os.environ.get("QAF_BENCH_REPORTING_BATCH", "20000"))
CPU_SAMPLE = 20_000  # events whose decoding and counter increments are timed alone
QUERY_ROUNDS = 300
# What each query does, i.e. what bounds its time: PostgreSQL summing buckets, then this process shaping them.
QUERY_WORK = {
    "figures": "One window's figures for one scope: the buckets of its months summed per (kind, theme, k1, k2) in "
               "one grouped query (by primary key for a service, by (month, kind) for all), plus the case series "
               "for the open-caseload denominators; the figures are computed from the sums in Python.",
    "monthly_collation": "One month for every service at once: one query grouped by service; the collation is "
                         "shaped in Python.",
    "quarterly": "Two three-month windows (this quarter and the one before) summed in two grouped queries; key "
                 "areas ranked in Python.",
    "dashboard_series": "Fourteen months of the eight kinds the dashboard draws, with only the dimensions it tells "
                        "apart (the others summed away in the query: less than half the rows), then twelve rolling "
                        "three-month windows computed in Python. Slowest for 'all', which sums every service.",
}

MIX = [  # (event type, weight per 100)
    ("case-opened", 8), ("case-closed", 3), ("audit-allocated", 12), ("audit-completed", 40),
    ("practice-concern-raised", 8), ("audit-overdue", 4), ("escalation-raised", 10), ("escalation-resolved", 5),
    ("complaint-logged", 6), ("complaint-resolved", 4),
]
SERVICES = [s.value for s in Service]
THEMES = [t.value for t in Theme]
QUESTIONS = [(f"q-{t}", t) for t in THEMES[:12]]
FIRST_YEAR, YEARS = 2006, 10


def generate(n: int, seed: int = 7) -> list[tuple[str, bytes, bytes]]:
    """N events as (topic, key, value), built from the contract examples with varied ids and dates."""
    rng = random.Random(seed)
    templates = {t: new_envelope(EXAMPLES[t], source="bench").model_dump(mode="json") for t, _ in MIX}
    topics = {t: EXAMPLES[t].TOPIC.name for t, _ in MIX}
    kinds = rng.choices([t for t, _ in MIX], weights=[w for _, w in MIX], k=n)
    out = []
    for i, kind in enumerate(kinds):
        year = FIRST_YEAR + rng.randrange(YEARS)
        month = rng.randrange(1, 13)
        day = date(year, month, rng.randrange(1, 29))
        stamp = datetime(year, month, day.day, 12, tzinfo=UTC).isoformat()
        env = dict(templates[kind])
        p = dict(env["payload"])
        env["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        env["correlation_id"] = env["event_id"]
        env["occurred_at"] = env["recorded_at"] = stamp
        service = rng.choice(SERVICES)
        if "service" in p:
            p["service"] = service
        ident = f"B{i}"
        if kind == "case-opened":
            p.update(case_id=f"C-{i % (n // 10 + 1)}", opened_on=day.isoformat())
        elif kind == "case-closed":
            p.update(case_id=f"C-{rng.randrange(n // 10 + 1)}", closed_on=day.isoformat())
        elif kind == "audit-allocated":
            p.update(audit_id=ident, month=f"{year}-{month:02d}", due_on=day.isoformat())
        elif kind == "audit-completed":
            p.update(
                audit_id=ident, month=f"{year}-{month:02d}", completed_at=stamp,
                grades=[{"domain": d, "grade": rng.choice(list(Grade)).value}
                        for d in ("assessment", "planning", "review", "supervision")],
                overall_grade=rng.choice(list(Grade)).value,
                themes=[{"theme": t, "severity": rng.choice(list(Severity)).value}
                        for t in rng.sample(THEMES, rng.randrange(0, 4))],
                indicator_answers=[{"question_id": q, "theme": t, "answer": rng.choice(list(Answer)).value}
                                   for q, t in rng.sample(QUESTIONS, 3)],
            )
        elif kind == "practice-concern-raised":
            p.update(concern_id=ident, raised_at=stamp, domains=rng.sample(["assessment", "planning", "recording"], 1))
        elif kind == "audit-overdue":
            p.update(audit_id=ident, due_on=day.isoformat())
        elif kind in ("escalation-raised", "escalation-resolved"):
            p.update(escalation_id=ident, theme=rng.choice(THEMES), reason=rng.choice(list(EscalationReason)).value)
            p.update({"raised_on": day.isoformat()} if kind == "escalation-raised" else {"resolved_on": day.isoformat(),
                     "within_timescale": rng.random() < 0.7})
        elif kind in ("complaint-logged", "complaint-resolved"):
            p.update(complaint_id=ident, theme=rng.choice(THEMES), category=rng.choice(list(ComplaintCategory)).value)
            p.update({"received_on": day.isoformat()} if kind == "complaint-logged" else {
                "resolved_on": day.isoformat(), "within_timescale": rng.random() < 0.6})
        env["payload"] = p
        key = str(p[EXAMPLES[kind].KEY_FIELD]).encode()
        out.append((topics[kind], key, orjson.dumps(env)))
    return out




async def produce_all(kafka: Any, messages: list[tuple[str, bytes, bytes]]) -> float:
    producer = make_producer(kafka, max_batch_size=1 << 20)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for topic, key, value in messages:
            pending.append(await producer.send(kafka.topic_prefix + topic, value, key=key))
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def bare_consume(kafka: Any, n: int, batch: int) -> float:
    """A bare aiokafka consumer on the same topics, from offset zero, doing nothing with the records."""
    partitions = await partitions_of(kafka, [kafka.topic_prefix + t.name for t in TOPICS])
    consumer = AIOKafkaConsumer(
        **client_options(kafka), group_id=f"bench-bare-{uuid.uuid4().hex[:6]}", enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=batch, fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        started = time.perf_counter()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        while seen < n:
            data = await consumer.getmany(timeout_ms=1000, max_records=batch)
            seen += sum(len(records) for records in data.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


# What each event type adds, computed here from the generated payloads (not by the service's rules):
# every id in the generated stream is new, so each event counts exactly once under its kind.
_SIMPLE_KINDS = {
    "audit-completed": ("audit", "completed_at"),
    "audit-allocated": ("allocated", "month"),
    "audit-overdue": ("audit-overdue", "due_on"),
    "practice-concern-raised": ("concern", "raised_at"),
    "escalation-raised": ("escalation", "raised_on"),
    "escalation-resolved": ("escalation-resolved", "resolved_on"),
    "complaint-logged": ("complaint", "received_on"),
    "complaint-resolved": ("complaint-resolved", "resolved_on"),
}


def expected_totals(messages: list[tuple[str, bytes, bytes]]) -> Counter[tuple[Any, ...]]:
    """(kind, service, month) -> count, and ('audit-theme', theme) -> audits naming the theme."""
    expected: Counter[tuple[Any, ...]] = Counter()
    for _, _, value in messages:
        env = orjson.loads(value)
        rule = _SIMPLE_KINDS.get(env["event_type"])
        if rule is None:
            continue
        kind, field = rule
        p = env["payload"]
        stamp = p[field]
        month = Month.parse(stamp) if field == "month" else Month.of(date.fromisoformat(stamp[:10]))
        expected[(kind, p["service"], month)] += 1
        if kind == "audit":
            for theme in {t["theme"] for t in p["themes"]}:
                expected[("audit-theme", theme)] += 1
    return expected


async def actual_totals(pool: Any) -> Counter[tuple[Any, ...]]:
    kinds = sorted({kind for kind, _ in _SIMPLE_KINDS.values()})
    actual: Counter[tuple[Any, ...]] = Counter()
    for r in await pool.fetch(
        "SELECT kind, service, month, sum(n)::bigint AS n FROM monthly_counts WHERE kind = ANY($1::text[]) "
        "GROUP BY 1, 2, 3 HAVING sum(n) <> 0", kinds
    ):
        actual[(r["kind"], r["service"], r["month"])] = r["n"]
    for r in await pool.fetch(
        "SELECT theme, sum(n)::bigint AS n FROM monthly_counts WHERE kind = 'audit-theme' GROUP BY 1"
    ):
        actual[("audit-theme", r["theme"])] = r["n"]
    return actual


def cpu_per_event(messages: list[tuple[str, bytes, bytes]]) -> dict[str, float]:
    """This process's CPU per event, µs, for the replay's pure stages run alone: decoding and validating
    an envelope from its bytes, then turning it into counter increments (no I/O, no other task)."""
    tune_gc()
    started = time.process_time()
    envelopes = [decode(value, expected_topic=topic) for topic, _, value in messages]
    decoded = time.process_time()
    for envelope in envelopes:
        handlers.prepare(envelope)
    prepared = time.process_time()
    return {"decode_and_validate_us": round((decoded - started) / len(messages) * 1e6, 2),
            "counter_increments_us": round((prepared - decoded) / len(messages) * 1e6, 2)}


class BackendCpu:
    """CPU time of the PostgreSQL backends serving this database (user + system), over a stretch of work."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.before: dict[int, float] = {}

    async def _read(self) -> dict[int, float]:
        pids = await self.pool.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
        out = {}
        for row in pids:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(row["pid"]).cpu_times()
                out[row["pid"]] = times.user + times.system
        return out

    async def start(self) -> None:
        self.before = await self._read()

    async def stop(self) -> float:
        after = await self._read()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def time_queries(pool: Any, rounds: int, seed: int = 11) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    first, last = Month.parse(f"{FIRST_YEAR + 1}-01"), Month.parse(f"{FIRST_YEAR + YEARS - 1}-12")
    scopes = ["all", *SERVICES]

    def uow() -> PostgresUnitOfWork[Repository]:
        return PostgresUnitOfWork(pool, Repository)

    async def figures() -> None:
        await usecases.figures(uow(), scope=rng.choice(scopes), window=rng.choice([1, 3, 6, 12]),
                               period_end=Month(rng.randint(first, last)))

    async def collation() -> None:
        await usecases.monthly_collation(uow(), Month(rng.randint(first, last)))

    async def quarterly() -> None:
        await usecases.quarterly_report(uow(), Month(rng.randint(first, last)), rng.choice(scopes))

    async def dashboard_series() -> None:
        end = rng.randint(first, last)
        dashboard.series(end, await Repository(pool).monthly_sums_reading(
            dashboard.READS, rng.choice(scopes), dashboard.first_month_needed(end), end))

    results = {}
    for name, query in (("figures", figures), ("monthly_collation", collation), ("quarterly", quarterly),
                        ("dashboard_series", dashboard_series)):
        await query()  # warm
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await query()
            samples.append((time.perf_counter() - started) * 1000)
        results[name] = {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(percentile(samples, 0.99), 2),
                         "max_ms": round(max(samples), 2), "rounds": rounds}
    return results




async def _run(ctx: BenchContext) -> tuple[list[Figure], str]:
    kafka = ctx.kafka()
    database_url = await ctx.fresh_database()
    settings = ReportingSettings(database_url=database_url, kafka=kafka, replay_batch_size=BATCH)
    service = definition(settings)
    await ensure_topics(kafka)
    messages = generate(EVENTS)
    expected = expected_totals(messages)
    alone = cpu_per_event(messages[:CPU_SAMPLE])  # before producing: the broker is idle meanwhile
    await produce_all(kafka, messages)
    del messages
    bare_rate = EVENTS / await bare_consume(kafka, EVENTS, BATCH)
    url = await migrate_service(database_url, "reporting", "bench-password", service.migrations_dir)
    pool = await connect_pool(url, "reporting", max_size=4)
    try:
        backends = BackendCpu(pool)
        await backends.start()
        own_cpu = time.process_time()
        stats = await replay_into(service, pool, url, publish=False)
        own_cpu = time.process_time() - own_cpu
        database_cpu = await backends.stop()
        first = await Repository(pool).snapshot()
        actual = await actual_totals(pool)
        profiler = new_profiler()
        profiler.start()
        again = await replay_into(service, pool, url, publish=False)
        profiler.stop()
        second = await Repository(pool).snapshot()
        buckets = await pool.fetchval("SELECT count(*) FROM monthly_counts")
        queries = await time_queries(pool, QUERY_ROUNDS)
    finally:
        await pool.close()
    wrong = {key: (expected[key], actual[key]) for key in expected.keys() | actual.keys() if expected[key] != actual[key]}
    correct = (not wrong and first == second and stats.batch.applied == EVENTS
               and stats.batch.dead_lettered == 0 and again.batch.applied == EVENTS)
    rate = stats.batch.records / stats.seconds
    check = {"correct": correct, "checked_totals": len(expected), "wrong_totals": len(wrong),
             "examples_of_wrong": {str(k): v for k, v in list(wrong.items())[:5]},
             "second_replay_same_counters": first == second, "counters": len(first),
             "replay": stats.as_dict(), "profiled_replay_events_per_s": round(again.batch.records / again.seconds, 1),
             "cpu_us_per_event": {"replay_process": round(own_cpu / EVENTS * 1e6, 1),
                                  "postgresql_backends": round(database_cpu / EVENTS * 1e6, 1),
                                  "bare_consumer_wall": round(1e6 / bare_rate, 1), **alone}}
    figures = [
        Figure(f"reporting replay of {EVENTS:,} mixed events", rate, "events/s", goal="≥ 20,000/s and ratio ≥ 0.5",
               met=rate >= 20_000 and rate / bare_rate >= 0.5, baseline_name="bare aiokafka consumer",
               baseline_value=bare_rate, ratio=rate / bare_rate, details=check),
    ]
    cpu = check["cpu_us_per_event"]
    wall_us = 1e6 / rate
    gap = "" if figures[0].met else (
        (f" Goal half met: {rate:,.0f}/s is over 20,000/s, but " if rate >= 20_000 else
         f" Goal missed: {rate:,.0f}/s is {rate / 20_000:.0%} of 20,000/s and ")
        + f"the ratio {rate / bare_rate:.2f} is {rate / bare_rate / 0.5:.0%} of 0.5. A ratio of 0.5 would leave {2e6 / bare_rate:.1f} µs per event, all "
        f"included; decoding and validating an envelope alone takes {cpu['decode_and_validate_us']} µs "
        "(pydantic-core, measured above), so no consumer that validates every event against its contract can "
        "reach it on this machine, whatever it does next.")
    figures[0].notes = (
        "The bare consumer only unpacks records. The replay also decodes and validates every envelope against "
        "its contract (pydantic-core, straight from the bytes), turns it into counter increments, and applies "
        f"them in batches (up to {BATCH:,} records) in one transaction each: the idempotency record "
        "(processed_events), the once-per-entity keys, case states, the summed counters (COPY into a staging "
        "table, one upsert in key order) and the dirty cells; the offsets are committed after the commit. "
        "It is pipelined: while PostgreSQL applies one batch, this process fetches and prepares the next. "
        f"CPU per event in this run: {cpu['replay_process']} µs in the replay process (of which, measured alone: "
        f"decoding and validating {cpu['decode_and_validate_us']} µs, counter increments "
        f"{cpu['counter_increments_us']} µs; the rest is fetching, building the batch's statements and the "
        f"event loop) and {cpu['postgresql_backends']} µs in PostgreSQL, against {wall_us:.1f} µs of wall time "
        f"per event: the two overlap, on 2 cores shared with the broker. The bare consumer takes "
        f"{cpu['bare_consumer_wall']} µs per event. The profile below is of a second, identical replay; "
        "PostgreSQL's share shows as the event loop's wait (epoll). What raised it from 10,880/s (the previous "
        "run): the pipeline; keys compared byte by byte (COLLATE \"C\": the database's locale-aware strcoll "
        "doubled the cost of every counter upsert); counter pages with room for updates in place (fillfactor 80, "
        "so most upserts touch no index); validation from bytes; counter keys as plain tuples; the "
        "idempotency insert returning a count instead of every id." + gap)
    for name, q in queries.items():
        gap = "" if q["p99_ms"] < 50 else (f" Goal missed by {q['p99_ms'] - 50:.0f} ms; the tail follows the "
                                           "machine's load.")
        figures.append(Figure(f"query {name} over {buckets:,} monthly buckets, p99", q["p99_ms"], "ms",
                              goal="< 50 ms", met=q["p99_ms"] < 50, details=q,
                              notes=f"{QUERY_WORK[name]} p50 {q['p50_ms']:.1f} ms, max {q['max_ms']:.1f} ms over "
                                    f"{q['rounds']} rounds at random months and scopes.{gap}"))
    profile = top_frames(profiler, f"second replay of {EVENTS:,} events ({again.batch.records / again.seconds:,.0f}/s "
                                   f"under the profiler)")
    return figures, profile


def run(ctx: BenchContext) -> tuple[list[Figure], str]:
    return asyncio.run(_run(ctx))
