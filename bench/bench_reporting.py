"""Benchmark of the reporting service (not a test): replay throughput and report query time.

    uv run python bench/bench_reporting.py [--events 200000] [--batch 5000] [--queries 300]

1. Produces N events (a realistic mix: cases, allocations, completed audits with themes and indicator
   answers, concerns, overdue audits, escalations, complaints) spread over ten years of months, onto
   the real topics of a Kafka broker started for the run (or KAFKA_BOOTSTRAP_SERVERS).
2. Reads them with a bare aiokafka consumer doing nothing with them: the reference rate.
3. Replays them through the reporting consumer (`replay`: decode, validate, apply exactly once in
   batched transactions into PostgreSQL, commit offsets): the reporting rate, and the ratio to (2).
4. With --with-flush: times the coalesced theme-updated flush of every figure the replay touched.
5. Times report queries over the ten years of monthly buckets (figures for a window, monthly
   collation, quarterly report, dashboard series): p50 / p99.
Writes bench/results/reporting.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qaf_shared.contracts.examples import EXAMPLES  # noqa: E402
from qaf_shared.db import connect_pool, migrate_service  # noqa: E402
from qaf_shared.envelope import new_envelope  # noqa: E402
from qaf_shared.kafka import client_options, ensure_topics, make_producer  # noqa: E402
from qaf_shared.settings import KafkaSettings  # noqa: E402
from qaf_shared.vocabulary import (  # noqa: E402
    Answer, ComplaintCategory, EscalationReason, Grade, Service, Severity, Theme,
)

from qaf_reporting.adapters import repository as repo  # noqa: E402
from qaf_reporting.adapters.http import build_collation, build_quarterly, compute_figures  # noqa: E402
from qaf_reporting.adapters.publisher import FigurePublisher  # noqa: E402
from qaf_reporting.adapters.replay import partitions_of, replay_into  # noqa: E402
from qaf_reporting.app import TOPICS, definition  # noqa: E402
from qaf_reporting.domain import dashboard  # noqa: E402
from qaf_reporting.domain.months import parse_month  # noqa: E402
from qaf_reporting.settings import ReportingSettings  # noqa: E402

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


async def produce_all(kafka: KafkaSettings, messages: list[tuple[str, bytes, bytes]]) -> float:
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


async def bare_consume(kafka: KafkaSettings, n: int, batch: int) -> float:
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


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def time_queries(pool: Any, rounds: int, seed: int = 11) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    first, last = parse_month(f"{FIRST_YEAR + 1}-01"), parse_month(f"{FIRST_YEAR + YEARS - 1}-12")
    scopes = ["all", *SERVICES]

    async def figures() -> None:
        await compute_figures(pool, rng.choice(scopes), rng.choice([1, 3, 6, 12]), rng.randint(first, last))

    async def collation() -> None:
        await build_collation(pool, rng.randint(first, last))

    async def quarterly() -> None:
        await build_quarterly(pool, rng.randint(first, last), rng.choice(scopes))

    async def dashboard_series() -> None:
        end = rng.randint(first, last)
        dashboard.series(end, await repo.monthly_sums(pool, dashboard.KINDS, rng.choice(scopes),
                                                      dashboard.first_month_needed(end), end))

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


async def run(args: argparse.Namespace, bootstrap: str, database_url: str) -> dict[str, Any]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    settings = ReportingSettings(database_url=database_url, kafka=kafka, replay_batch_size=args.batch)
    service = definition(settings)
    await ensure_topics(kafka)
    started = time.perf_counter()
    messages = generate(args.events)
    generated_s = time.perf_counter() - started
    produced_s = await produce_all(kafka, messages)
    del messages
    bare_s = await bare_consume(kafka, args.events, args.batch)
    url = await migrate_service(database_url, "reporting", "bench-password", service.migrations_dir)
    pool = await connect_pool(url, "reporting", max_size=4)
    try:
        stats = await replay_into(service, pool, url, publish=False)
        flush: dict[str, Any] = {"skipped": "run with --with-flush to time it"}
        if args.with_flush:
            flush_started = time.perf_counter()
            published = await FigurePublisher(pool, max_cells=5000).flush_all()
            flush = {"seconds": round(time.perf_counter() - flush_started, 2), "messages": published}
        buckets = await pool.fetchval("SELECT count(*) FROM monthly_counts")
        queries = await time_queries(pool, args.queries)
    finally:
        await pool.close()
    bare_rate = args.events / bare_s
    replay_rate = stats.batch.records / stats.seconds
    return {
        "benchmark": "reporting replay vs bare aiokafka consumer; report queries over 10 years of buckets",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "events": args.events,
        "batch_size": args.batch,
        "generate_s": round(generated_s, 2),
        "produce_s": round(produced_s, 2),
        "bare_consumer": {"seconds": round(bare_s, 3), "events_per_s": round(bare_rate, 1)},
        "reporting_replay": {**stats.as_dict(), "events_per_s": round(replay_rate, 1)},
        "ratio": round(replay_rate / bare_rate, 3),
        "goals": {"events_per_s": 20000, "ratio": 0.5, "query_p99_ms": 50},
        "theme_updated_flush": flush,
        "monthly_buckets": buckets,
        "queries": queries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--with-flush", action="store_true",
                        help="also time publishing every figure of the ten years as theme-updated (slow)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reporting.json")
    args = parser.parse_args()
    from tests.support.infra import kafka_for_tests, postgres_for_tests

    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(kafka_for_tests())
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(postgres_for_tests())
        result = asyncio.run(run(args, bootstrap, database_url))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
