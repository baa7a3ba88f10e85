"""docs/subscribing.md: the example subscriber, run as the page says against reporting's real output,
builds a view whose every figure is the figure reporting serves."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

from qaf_shared.settings import KafkaSettings
from qaf_reporting.app import definition
from tests.conftest import eventually
from tests.integration.docs.support import ROOT, run_example
from tests.integration.reporting.test_figures import EXPECTED_OCTOBER_ALL, OCT, scenario, settings, summary
from tests.support.kafka import produce
from tests.support.services import running

pytestmark = pytest.mark.integration


async def test_the_subscriber_example_rebuilds_reportings_figures(database_url: str,
                                                                   kafka_settings: KafkaSettings) -> None:
    events, late = scenario()
    applied = len({e.event_id for e in events + late}) - 1  # the last of `events` is dead-lettered
    async with running(definition(settings(database_url, kafka_settings))) as service:
        pool = service.runtime.pool
        await produce(kafka_settings, *events, *late)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", applied), timeout=60)
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM dirty_cells"))
        await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))

        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
               "KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix}
        result = await run_example(sys.executable, "examples/subscribe_theme_updates.py", "--group", "docs-view",
                                   "--until-caught-up", "--seconds", "60", "--json", env=env)
        assert result.returncode == 0, result.stderr
        view = [json.loads(line) for line in result.stdout.splitlines()]
        # it printed each change as it arrived (stderr), then the view: one line per figure
        assert len(result.stderr.splitlines()) >= len(view) > 0

        by_scope: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        for figure in view:
            by_scope.setdefault((figure["service"], figure["window_months"], figure["period_end"]), []).append(figure)
        assert summary(by_scope[("all", 1, OCT)]) == EXPECTED_OCTOBER_ALL

        headers = await service.token("U-PERF-01", "reporting")
        for (scope, window, period_end), figures in sorted(by_scope.items()):
            response = await service.http.get("/reports/figures", headers=headers, params={
                "service": scope, "window": window, "period_end": period_end})
            assert response.status_code == 200
            assert summary(figures) == summary(response.json()["figures"]), (scope, window, period_end)
        # the comparison covered every window, "all" and the services the events named
        assert {window for _, window, _ in by_scope} == {1, 3, 6, 12}
        assert {scope for scope, _, _ in by_scope} >= {"all", "first-response", "safeguarding-and-support"}


def test_the_page_names_the_example_and_the_key() -> None:
    page = (ROOT / "docs" / "subscribing.md").read_text()
    assert "examples/subscribe_theme_updates.py" in page
    assert "(theme, measure, question_id, category, service, window_months, period_end)" in page
