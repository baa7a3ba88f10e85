"""The broker's own ceilings on this machine, for every other figure to be read against."""

from __future__ import annotations

import asyncio

from bench.harness import (
    BenchContext,
    Figure,
    bare_consume_rate,
    kafka_producer_performance,
    percentiles,
    produce_raw,
    round_trip_latencies,
)
from qaf_shared.kafka import ensure_topics
from qaf_shared.topics import Topic

MESSAGES = 200_000


def run(ctx: BenchContext) -> tuple[list[Figure], str]:
    settings = ctx.kafka()
    topic = Topic("bench.baseline", "key", 6, "baseline")

    async def measure() -> list[Figure]:
        await ensure_topics(settings, (topic,))
        name = settings.topic_prefix + topic.name
        payload = b"x" * 600
        seconds = await produce_raw(settings, name, [(str(i % 997).encode(), payload) for i in range(MESSAGES)])
        consume = await bare_consume_rate(settings, name, MESSAGES)
        latencies = percentiles(await round_trip_latencies(settings, rate=100, seconds=20))
        return [
            Figure("aiokafka produce, acks=all, 600 B", MESSAGES / seconds, "events/s"),
            Figure("aiokafka bare consume, 600 B", consume, "events/s"),
            Figure("bare produce→consume round trip p99 at 100/s", latencies["p99"], "ms", details=latencies),
        ]

    figures = asyncio.run(measure())
    perf = kafka_producer_performance(ctx.bootstrap, settings.topic_prefix + topic.name, records=200_000,
                                      record_size=600)
    figures.append(Figure("Kafka ProducerPerformance, acks=all, 600 B", perf, "events/s"))
    return figures, ""
