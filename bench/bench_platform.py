"""The running platform: intake → theme-updated latency, intake throughput, resident memory.

    uv run python -m bench.run platform

Starts the five services as their own processes (`qaf-<name> serve`, as `make up` does) on the run's
broker (own topic prefix) and a fresh database, then:

1. latency: audit-completed events arrive on `qaf.audits` at a steady 100/s for 60 s; each names one
   theme for one service in one month, so the n-th event of a (service, theme) pair is reflected when a
   theme-updated message for that figure (`audit-theme`, window 1) carries a count ≥ n. Latency = the
   time from sending the event to receiving that message. Baseline: a bare produce→consume round trip at
   the same rate on the same broker, just before.
2. intake throughput, HTTP path: allocation's `POST /intake/events` with batches of 500 case-opened
   envelopes, 4 requests in flight, as a case-system token; events accepted (202) per second.
3. intake throughput, Kafka path: the same envelopes produced straight onto `qaf.cases` with the
   platform's producer settings (acks=all, idempotence); events acknowledged per second.
   Baseline for both: Kafka's ProducerPerformance tool, records of the same size, acks=all.
4. resident memory (RSS) of each service after all that load, at rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from aiokafka import AIOKafkaConsumer

from bench.harness import (
    RESULTS,
    BenchContext,
    Figure,
    kafka_producer_performance,
    percentiles,
    py_spy_top,
    round_trip_latencies,
    start_py_spy,
)
from qaf_devstack.stack import SERVICES, Stack
from qaf_shared.contracts.audits import ThemeFinding
from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import client_options, ensure_topics, make_producer
from qaf_shared.settings import KafkaSettings
from qaf_shared.topics import Topic
from qaf_shared.vocabulary import Service, Severity, Theme

RATE, SECONDS = 100, int(os.environ.get("QAF_BENCH_LATENCY_SECONDS", "60"))
BASELINE_SECONDS = 20
HTTP_EVENTS, HTTP_BATCH, HTTP_CONCURRENCY = 20_000, 500, 4
KAFKA_EVENTS = 50_000
PERIOD = date(2025, 6, 15)
PROFILED_PERIOD, PROFILED_SECONDS = date(2025, 7, 15), 20
THEMES = [Theme.SUPERVISION, Theme.CHRONOLOGIES, Theme.PERMANENCE, Theme.SAFEGUARDING_RISK]
SERVICES_CYCLE = list(Service)
INTAKE_SERVICE = Service.FIRST_RESPONSE


MEMORY_NOTES = {
    "actions": "matplotlib and WeasyPrint are now loaded when a Board digest is first rendered, not at start "
               "(they added ~65 MB to every actions process); a process that has rendered a digest holds them.",
    "reporting": "most of it is matplotlib (dashboard charts, imported at start) and the libraries every service "
                 "loads (FastAPI, pydantic, FastStream, aiokafka, asyncpg).",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(stack: Stack, name: str, port: int, principal: str, role: str) -> str:
    bin_dir = Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / f"qaf-{name}"), "tokens", "create", "--principal", principal, "--role", role],
                         env=stack.service_env(name, port), capture_output=True, text=True, check=True).stdout
    return next(line.split()[-1] for line in out.splitlines() if line.startswith("token:"))


def _audit_completed(i: int, period: date = PERIOD) -> tuple[bytes, bytes, tuple[str, str]]:
    service, theme = SERVICES_CYCLE[i % len(SERVICES_CYCLE)], THEMES[(i // len(SERVICES_CYCLE)) % len(THEMES)]
    at = datetime(period.year, period.month, period.day, 12, tzinfo=UTC)
    payload = EXAMPLES["audit-completed"].model_copy(update={
        "audit_id": f"LAT-{period:%Y%m}-{i}", "service": service, "month": f"{period.year}-{period.month:02d}",
        "themes": [ThemeFinding(theme=theme, severity=Severity.SIGNIFICANT)], "completed_at": at,
    })
    envelope = new_envelope(payload, source="bench")
    return envelope.key, envelope.to_bytes(), (service.value, theme.value)


def _case_opened(i: int, run: str) -> dict[str, Any]:
    payload = EXAMPLES["case-opened"].model_copy(update={
        "case_id": f"C-{run}-{i}", "service": INTAKE_SERVICE, "opened_on": date(2024, 1 + i % 12, 1 + i % 28),
    })
    return new_envelope(payload, source="bench").model_dump(mode="json")


async def intake_latency(settings: KafkaSettings, seconds: int = SECONDS, period: date = PERIOD) -> list[float]:
    """Milliseconds from an audit-completed sent to the theme-updated that reflects it.

    Each run uses a month of its own (`period`), so its figures start from zero."""
    themes_topic = settings.topic_prefix + "qaf.themes"
    consumer = AIOKafkaConsumer(themes_topic, **client_options(settings), group_id=f"lat-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="latest", enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    await asyncio.sleep(2.0)  # take the partitions before the first event
    producer = make_producer(settings, linger_ms=0)
    await producer.start()
    total = RATE * seconds
    events = [_audit_completed(i, period) for i in range(total)]
    nth: list[int] = []
    seen: dict[tuple[str, str], int] = {}
    for _, _, pair in events:
        seen[pair] = seen.get(pair, 0) + 1
        nth.append(seen[pair])
    sent_at: list[float] = [0.0] * total
    reached: dict[tuple[str, str], list[tuple[int, float]]] = {}  # pair -> [(count, received at)]
    label = f"{period.year}-{period.month:02d}"
    keys = {theme.value.encode() for theme in THEMES}  # theme-updated is keyed by theme: parse only ours

    async def receive() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for r in records:
                    if r.key not in keys:
                        continue
                    p = orjson.loads(r.value)["payload"]
                    if p["measure"] == "audit-theme" and p["window_months"] == 1 and p["period_end"] == label \
                            and p["service"] != "all":
                        reached.setdefault((p["service"], p["theme"]), []).append((p["count"], now))

    receiver = asyncio.create_task(receive())
    topic = settings.topic_prefix + "qaf.audits"
    started = time.perf_counter()
    try:
        for i, (key, value, _) in enumerate(events):
            await asyncio.sleep(max(0.0, started + i / RATE - time.perf_counter()))
            sent_at[i] = time.perf_counter()
            await producer.send(topic, value, key=key)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if all(max((c for c, _ in reached.get(pair, [])), default=0) >= n for pair, n in seen.items()):
                break
            await asyncio.sleep(0.2)
    finally:
        receiver.cancel()
        await producer.stop()
        await consumer.stop()
    latencies = []
    for i, (_, _, pair) in enumerate(events):
        arrivals = [t for c, t in reached.get(pair, []) if c >= nth[i]]
        latencies.append((min(arrivals) - sent_at[i]) * 1000 if arrivals else float("inf"))
    return latencies


async def http_intake(port: int, token: str) -> tuple[float, int]:
    """Events/s accepted by allocation's HTTP intake; and how many were accepted."""
    run = uuid.uuid4().hex[:6]
    bodies = [orjson.dumps([_case_opened(i, run) for i in range(start, start + HTTP_BATCH)])
              for start in range(0, HTTP_EVENTS, HTTP_BATCH)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        await client.post("/intake/events", content=orjson.dumps(_case_opened(-1, run)), headers=headers)  # warm
        queue = list(bodies)
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal accepted
            while queue:
                body = queue.pop()
                response = await client.post("/intake/events", content=body, headers=headers)
                response.raise_for_status()
                accepted += response.json()["accepted"]

        await asyncio.gather(*(worker() for _ in range(HTTP_CONCURRENCY)))
        seconds = time.perf_counter() - started
    return accepted / seconds, accepted


async def kafka_intake(settings: KafkaSettings) -> tuple[float, int]:
    """Events/s acknowledged when case envelopes are produced straight onto qaf.cases."""
    run = uuid.uuid4().hex[:6]
    messages = []
    for i in range(KAFKA_EVENTS):
        env = _case_opened(i, run)
        messages.append((env["payload"]["case_id"].encode(), orjson.dumps(env)))
    producer = make_producer(settings)
    await producer.start()
    topic = settings.topic_prefix + "qaf.cases"
    try:
        started = time.perf_counter()
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return KAFKA_EVENTS / seconds, len(orjson.dumps(_case_opened(0, run)))


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time used so far (user + system) by each service, the Kafka broker(s), PostgreSQL and this process."""
    out: dict[str, float] = {}

    def add(name: str, process: psutil.Process) -> None:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            out[name] = out.get(name, 0.0) + times.user + times.system

    for name, process in stack.processes.items():
        add(name, psutil.Process(process.pid))
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "java" and any("kafka" in part for part in process.info["cmdline"] or ()):
            add("kafka broker", process)
        elif process.info["name"] == "postgres":
            add("postgresql", process)
    add("bench driver", psutil.Process())
    return out


def resident_memory(stack: Stack, samples: int = 5) -> dict[str, float]:
    """Largest RSS (MB) of each service over a few samples a second apart."""
    peak: dict[str, float] = {}
    for _ in range(samples):
        for name, process in stack.processes.items():
            rss = psutil.Process(process.pid).memory_info().rss / 2**20
            peak[name] = max(peak.get(name, 0.0), rss)
        time.sleep(1)
    return peak


def run(ctx: BenchContext) -> tuple[list[Figure], str]:
    database_url = asyncio.run(ctx.fresh_database())
    settings = ctx.kafka()
    asyncio.run(ensure_topics(settings))
    ports = {name: _free_port() for name in SERVICES}
    stack = Stack(services=ports, extra_env={"KAFKA_TOPIC_PREFIX": settings.topic_prefix})
    stack.database_url, stack.bootstrap = database_url, ctx.bootstrap
    figures: list[Figure] = []
    notes: list[str] = []
    profiles: list[str] = []
    try:
        stack.start_services()
        ready = stack.wait_ready(timeout=180)
        notes.append("ready after " + ", ".join(f"{n} {s:.0f}s" for n, s in ready.items()))
        idle = resident_memory(stack, samples=1)
        baseline = percentiles(asyncio.run(round_trip_latencies(settings, rate=RATE, seconds=BASELINE_SECONDS)))
        cpu_before, clock = cpu_seconds(stack), time.perf_counter()
        latencies = asyncio.run(intake_latency(settings))
        elapsed = time.perf_counter() - clock
        cpu_share = {name: round((used - cpu_before.get(name, 0.0)) / elapsed * 100, 1)
                     for name, used in sorted(cpu_seconds(stack).items(), key=lambda item: -item[1])}
        # profiled in a run of its own (a month of its own), so the profiler's CPU does not load the measured run
        spy_out = RESULTS / "reporting-latency.pyspy.tmp"
        spy = start_py_spy(stack.processes["reporting"].pid, PROFILED_SECONDS, spy_out)
        asyncio.run(intake_latency(settings, seconds=PROFILED_SECONDS, period=PROFILED_PERIOD))
        profiles.append(py_spy_top(spy, spy_out, f"reporting service during a second, profiled latency run "
                                                 f"({RATE}/s for {PROFILED_SECONDS}s)"))
        missing = sum(1 for x in latencies if x == float("inf"))
        found = percentiles([x for x in latencies if x != float("inf")] or [0.0, 0.0])
        # every audit must show in its figure: a message lost or a count wrong fails the run
        details = {**found, "missing": missing, "correct": missing == 0, "baseline": baseline,
                   "cpu_percent_of_one_core": cpu_share}
        for q in ("p50", "p95", "p99"):
            figures.append(Figure(
                f"audit-completed → theme-updated latency {q}, {RATE}/s for {SECONDS}s", found[q], "ms",
                goal="< 250 ms" if q == "p99" else "", met=(found[q] < 250 and missing == 0) if q == "p99" else None,
                baseline_name=f"bare round trip {q}", baseline_value=baseline[q], ratio=found[q] / baseline[q],
                details=details if q == "p99" else {}))
        p99 = figures[-1]
        p99.notes = (
            "Path: reporting's consumer (batches wait up to consumer_batch_timeout_ms = 20) applies the event in one "
            "transaction (its counters and its dirty cell in one statement) and, once committed, wakes the figure "
            "publisher, which flushes at most every flush_min_gap_ms (50; flush_interval_ms, 100, is only the "
            "longest wait, for cells marked by another instance): it reads the dirty cells without locking them, "
            "recomputes their figures with one query each for the monthly sums, the case series and the values "
            "last published (whatever the number of services), and ends with one statement that records the "
            "figures, queues the theme-updated messages in the outbox, clears the cells not marked again "
            "meanwhile and notifies the relay; the relay, woken at commit, sends them; then our consumer reads "
            "them. Each audit moves the rate of every theme of its service and of all services, so a flush "
            "publishes ~20 messages per service touched (some 2,000/s at this rate), which the actions service "
            "also consumes. The bare round trip is only the last hop. "
            + "CPU during the measured run, in % of one core (2 cores = 200%): "
            + ", ".join(f"{name} {share:.0f}" for name, share in cpu_share.items()) + ". "
            + ("" if p99.met else f"Goal missed by {found['p99'] - 250:,.0f} ms (p99 {found['p99']:,.0f} ms, p50 "
               f"{found['p50']:,.0f} ms): the services, the broker and PostgreSQL share 2 cores, nearly all of them "
               "busy with the theme-updated traffic (made, relayed, stored, consumed), so every hop waits its turn "
               "for a core; the tail is that queueing, not one slow step (see the py-spy profile of the reporting "
               "process below).")
            + " Before this work: p99 471 ms, p50 170 ms. What brought it down: the consumer wakes the publisher "
            "instead of its waiting out a 100 ms timer; the publisher's reads grouped into three queries and its "
            "writes into one statement; dirty cells read without locks, so the consumer never waits for a flush; "
            "and the actions service applying theme-updated in batches (one upsert and one drift evaluation per "
            "batch, not per message), which freed the cores every hop shares.")
        token = _token(stack, "allocation", ports["allocation"], INTAKE_SERVICE.value, "case-system")
        spy_out = RESULTS / "allocation-intake.pyspy.tmp"
        spy = start_py_spy(stack.processes["allocation"].pid, 8, spy_out)
        http_rate, accepted = asyncio.run(http_intake(ports["allocation"], token))
        profiles.append(py_spy_top(spy, spy_out, "allocation service during the HTTP intake run"))
        kafka_rate, size = asyncio.run(kafka_intake(settings))
        perf_topic = Topic("bench.producer-performance", "key", 6, "baseline")
        asyncio.run(ensure_topics(settings, (perf_topic,)))
        perf = kafka_producer_performance(ctx.bootstrap, settings.topic_prefix + perf_topic.name,
                                          records=100_000, record_size=size)
        figures.append(Figure(f"HTTP intake (POST /intake/events, {HTTP_BATCH} a request, {HTTP_CONCURRENCY} in "
                              "flight)", http_rate, "events/s", goal="report the ratio",
                              baseline_name=f"ProducerPerformance, {size} B", baseline_value=perf,
                              ratio=http_rate / perf, details={"accepted": accepted, "sent": HTTP_EVENTS,
                                                               "correct": accepted == HTTP_EVENTS},
                              notes="Each request is parsed (FastAPI), each envelope validated against its "
                              "contract, serialised again for the outbox and inserted in one transaction; the relay "
                              "sends it to Kafka afterwards (acks=all). The allocation service also consumes these "
                              "case events meanwhile. ProducerPerformance is Java writing fixed records with no "
                              "validation; see the py-spy profile of the allocation process below."))
        figures.append(Figure("Kafka intake (case envelopes produced onto qaf.cases, acks=all)", kafka_rate,
                              "events/s", goal="report the ratio", baseline_name=f"ProducerPerformance, {size} B",
                              baseline_value=perf, ratio=kafka_rate / perf, details={"record_bytes": size},
                              notes="aiokafka with the platform's settings (acks=all, idempotence, linger 2 ms); "
                              "the Python producer's CPU is the limit, next to the Java tool."))
        time.sleep(10)  # let the consumers catch up with the intake, then read memory at rest
        memory = resident_memory(stack)
        for name, mb in memory.items():
            figures.append(Figure(f"resident memory of {name} after load", mb, "MB", goal="< 150 MB", met=mb < 150,
                                  details={"idle_after_start_mb": round(idle[name], 1)},
                                  notes=MEMORY_NOTES.get(name, "")))
    finally:
        stack.stop()
    return figures, "\n\n".join([*notes, *profiles])
