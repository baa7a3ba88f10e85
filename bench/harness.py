"""The benchmark harness: one run, every figure next to a baseline measured in the same run.

These machines are noisy, so a rate alone says little: each figure is reported with the baseline
that bounds it (a bare Kafka consumer, a bare produce→consume round trip, Kafka's own producer
performance tool), measured minutes apart on the same broker. Results go to `bench/results/*.json`
and `docs/performance.md`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer
from pyinstrument import Profiler

from qaf_devstack.ephemeral import ephemeral_kafka, ephemeral_postgres
from qaf_devstack.kafka import ensure_jars
from qaf_shared.kafka import client_options, ensure_topics, make_producer
from qaf_shared.settings import KafkaSettings
from qaf_shared.topics import Topic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    baseline_name: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchContext:
    bootstrap: str
    database_url: str

    def kafka(self, prefix: str | None = None) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap, topic_prefix=prefix if prefix is not None else
                             "b" + uuid.uuid4().hex[:8] + ".")

    async def fresh_database(self) -> str:
        """A new, empty database on the run's PostgreSQL server (each benchmark its own). Returns its URL."""
        name = "bench_" + uuid.uuid4().hex[:10]
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        parts = urlsplit(self.database_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def bench_context() -> Iterator[BenchContext]:
    with ExitStack() as stack:
        bootstrap = stack.enter_context(ephemeral_kafka())
        database_url = stack.enter_context(ephemeral_postgres())
        yield BenchContext(bootstrap, database_url)


# ---- baselines ---------------------------------------------------------------------------------


async def produce_raw(settings: KafkaSettings, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Publish (key, value) pairs as fast as acks=all allows; returns seconds taken."""
    producer = make_producer(settings, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        batch = []
        for key, value in messages:
            batch.append(await producer.send(topic, value, key=key))
            if len(batch) >= 5000:
                await asyncio.gather(*batch)
                batch = []
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def bare_consume_rate(settings: KafkaSettings, topic: str, expect: int) -> float:
    """Events/s of an aiokafka consumer reading `topic` from the start, doing nothing with them."""
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=5000,
        fetch_max_bytes=50 * 1024 * 1024, max_partition_fetch_bytes=10 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    try:
        started = None
        while seen < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if started is None and batch:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        assert started is not None
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def round_trip_latencies(settings: KafkaSettings, *, rate: float, seconds: float) -> list[float]:
    """Milliseconds from send to receipt for a bare producer→consumer pair at a steady rate."""
    topic = Topic("bench.round-trip", "key", 1, "baseline")
    await ensure_topics(settings, (topic,))
    name = settings.topic_prefix + topic.name
    consumer = AIOKafkaConsumer(name, **client_options(settings), group_id=f"rt-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="latest", enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    await asyncio.sleep(1.0)  # let the consumer take its partition before the first send
    producer = make_producer(settings, linger_ms=0)
    await producer.start()
    latencies: list[float] = []
    total = int(rate * seconds)

    async def receive() -> None:
        while len(latencies) < total:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                latencies.extend((now - float(r.value)) * 1000 for r in records)

    receiver = asyncio.create_task(receive())
    started = time.perf_counter()
    for i in range(total):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await producer.send(name, str(time.perf_counter()).encode(), key=b"k")
    await asyncio.wait_for(receiver, timeout=seconds + 30)
    await producer.stop()
    await consumer.stop()
    return latencies


def kafka_producer_performance(bootstrap: str, topic: str, *, records: int, record_size: int) -> float:
    """Records/s by Kafka's own ProducerPerformance tool (kafka-tools jar), acks=all."""
    libs = ensure_jars()
    result = subprocess.run(
        ["java", "-Xmx512m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
         "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
         "enable.idempotence=true"],
        capture_output=True, text=True, check=True,
    )
    summary = result.stdout.strip().splitlines()[-1]
    match = re.search(r"([\d.]+) records/sec", summary)
    if not match:
        raise RuntimeError(f"could not read ProducerPerformance output: {summary}")
    return float(match.group(1))


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": ordered[-1], "count": len(ordered)}


# ---- profiles ----------------------------------------------------------------------------------


def new_profiler() -> Profiler:
    """A statistical profiler (pyinstrument) of this process's thread: start() / stop() around the work.

    Time spent waiting for PostgreSQL or Kafka shows as the event loop's `epoll.poll`.
    """
    return Profiler(interval=0.001, async_mode="disabled")


def top_frames(profiler: Profiler, title: str, lines: int = 14) -> str:
    """The functions where the time went: self time, then inclusive time in the platform's own code."""
    session = profiler.last_session
    if session is None:
        return f"{title}: no profile"
    root = session.root_frame()
    if root is None:
        return f"{title}: no samples"
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()

    def walk(frame: Any, ancestors: frozenset[str]) -> None:
        label = f"{frame.function} ({frame.file_path_short})"
        if frame.identifier.startswith("["):
            return  # synthetic ([self]): counted in its parent's total_self_time
        own[label] += frame.total_self_time
        if "qaf_" in (frame.file_path or "") and label not in ancestors:
            inclusive[label] += frame.time
            ancestors = ancestors | {label}
        for child in frame.children:
            walk(child, ancestors)

    walk(root, frozenset())
    total = root.time or 1.0
    out = [f"{title} (pyinstrument, {total:.1f} s sampled; self time):"]
    out += [f"{100 * t / total:5.1f}% {label}" for label, t in own.most_common(lines)]
    out += ["", "inclusive time in the platform's own code:"]
    out += [f"{100 * t / total:5.1f}% {label}" for label, t in inclusive.most_common(lines)]
    return "\n".join(out)


def start_py_spy(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """Sample another process (a service) with py-spy for `seconds`; None when py-spy may not attach."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return None
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                             "--format", "raw", "--nonblocking", "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short_frame(frame: str) -> str:
    """'apply (/x/site-packages/qaf_reporting/adapters/repository.py:30)' -> 'apply (adapters/repository.py)'."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    return f"{name} ({'/'.join(path.split('/')[-2:])})"


def py_spy_top(spy: subprocess.Popen[bytes] | None, output: Path, title: str, lines: int = 12) -> str:
    """Self time and inclusive time (our own code) of the heaviest frames in a py-spy raw profile."""
    if spy is None:
        return f"{title}: py-spy not installed"
    _, err = spy.communicate(timeout=600)
    if not output.exists():
        return f"{title}: py-spy could not sample ({err.decode(errors='replace').strip()[:200]})"
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        raw = stack.split(";")
        own[_short_frame(raw[-1])] += n
        for frame in {_short_frame(f) for f in raw if "qaf_" in f}:
            inclusive[frame] += n
    if not total:
        return f"{title}: no samples"
    out = [f"{title} (py-spy, {total} samples of CPU; self time):"]
    out += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(lines)]
    out += ["", "inclusive time in the service's own code:"]
    out += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(lines)]
    return "\n".join(out)


# ---- results -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def write_results(name: str, figures: list[Figure], profile: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({
        "bench": name, "measured_at": datetime.now(UTC).isoformat(), "machine": machine(),
        "figures": [asdict(f) for f in figures], "profile": profile,
    }, indent=2) + "\n")
    return path


def format_table(figures: list[Figure]) -> str:
    lines = ["| figure | value | baseline (same run) | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for f in figures:
        baseline = f"{f.baseline_name}: {f.baseline_value:,.1f}" if f.baseline_value is not None else "—"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[f.met]
        lines.append(f"| {f.name} | {f.value:,.1f} {f.unit} | {baseline} | {ratio} | {f.goal or '—'} | {met} |")
    return "\n".join(lines)


def write_performance_doc() -> Path:
    """docs/performance.md from every result file: the figures, what limited each, the profiles."""
    sections = ["# Performance", "",
                "Generated by `make bench` from `bench/results/*.json`; do not edit by hand. Every rate sits "
                "next to a baseline measured in the same run on the same machine.", ""]
    results = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))]
    results = [data for data in results if "figures" in data]  # skip result files from before the harness
    goals = [(data["bench"], Figure(**f)) for data in results for f in data["figures"] if f.get("goal")
             and f.get("met") is not None]
    if goals:
        sections += ["## Goals at a glance", "", "| benchmark | figure | value | goal | met |", "|---|---|---|---|---|"]
        sections += [f"| {bench} | {f.name} | {f.value:,.1f} {f.unit}"
                     + (f" (ratio {f.ratio:.2f})" if f.ratio is not None else "")
                     + f" | {f.goal} | {'yes' if f.met else '**no**'} |" for bench, f in goals]
        sections += ["", "What limited each figure, and by how much a missed goal was missed, is in its section.", ""]
    for data in results:
        figures = [Figure(**f) for f in data["figures"]]
        sections += [f"## {data['bench']}", "",
                     f"Measured {data['measured_at'][:19]} UTC on {data['machine']['cpus']} cores, "
                     f"Python {data['machine']['python']}, load average at the end "
                     f"{' / '.join(str(x) for x in data['machine'].get('load_average', []))} (1/5/15 min).", "",
                     format_table(figures), ""]
        for f in figures:
            if f.notes:
                sections += [f"- **{f.name}**: {f.notes}"]
        if data.get("profile"):
            sections += ["", "Top frames of the profile:", "", "```", data["profile"].strip(), "```"]
        sections.append("")
    doc = ROOT / "docs" / "performance.md"
    doc.write_text("\n".join(sections))
    return doc
