"""The benchmarks' own checks, at a small size, so the harness cannot rot between `make bench` runs.

Not a timed test: nothing here asserts a speed. It asserts that a benchmark run measures against its
baseline and checks its results against figures computed independently of the service's rules.
"""

from __future__ import annotations

import asyncio
import gc
import uuid

import pytest

from bench import bench_allocation, bench_reporting
from bench.harness import BenchContext
from tests.support.kafka import delete_topics

pytestmark = pytest.mark.integration


class SmallContext(BenchContext):
    """The run's broker and server, with one known topic prefix, so the test removes its topics."""

    prefix = "bt" + uuid.uuid4().hex[:8] + "."

    def kafka(self, prefix=None):  # type: ignore[no-untyped-def]
        return super().kafka(self.prefix)


def test_the_reporting_bench_checks_its_replay_against_independent_totals(
    kafka_bootstrap: str, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_reporting, "EVENTS", 3000)
    monkeypatch.setattr(bench_reporting, "BATCH", 400)
    monkeypatch.setattr(bench_reporting, "QUERY_ROUNDS", 3)
    thresholds = gc.get_threshold()
    ctx = SmallContext(kafka_bootstrap, pg_admin_url)
    try:
        figures, profile = bench_reporting.run(ctx)
    finally:
        gc.set_threshold(*thresholds)
        asyncio.run(delete_topics(kafka_bootstrap, ctx.prefix))
    replay = figures[0]
    assert replay.details["correct"] is True, replay.details["examples_of_wrong"]
    assert replay.details["checked_totals"] > 0 and replay.details["wrong_totals"] == 0
    assert replay.details["replay"]["applied"] == 3000 and replay.details["second_replay_same_counters"]
    assert replay.baseline_value and replay.ratio == pytest.approx(replay.value / replay.baseline_value)
    assert set(replay.details["cpu_us_per_event"]) >= {"replay_process", "postgresql_backends", "decode_and_validate_us"}
    assert [f.name.split(" over")[0] for f in figures[1:]] == [
        "query figures", "query monthly_collation", "query quarterly", "query dashboard_series"]
    assert "second replay of 3,000 events" in profile


def test_the_allocation_bench_draws_the_same_sample_every_time() -> None:
    figures, _ = bench_allocation.run(None)  # type: ignore[arg-type]
    assert figures[0].details["correct"] is True
