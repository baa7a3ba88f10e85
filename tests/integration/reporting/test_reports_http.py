"""The reports over HTTP (JSON, CSV, auth) and the dashboard in headless Chromium, on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import socket
import tempfile
from pathlib import Path

import httpx
import pytest
import uvicorn

from qaf_shared.http import TokenStore
from qaf_shared.runtime import ServiceRuntime
from qaf_shared.settings import KafkaSettings
from qaf_reporting.app import definition
from tests.conftest import eventually
from tests.integration.reporting.test_figures import scenario, settings
from tests.support.kafka import produce

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(database_url: str, kafka: KafkaSettings):  # type: ignore[no-untyped-def]
    """The whole service behind uvicorn on a free local port (lifespan included)."""
    runtime = ServiceRuntime(definition(settings(database_url, kafka)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(runtime.http_app(), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), timeout=120)
        assert not task.done(), "the server stopped while starting"
        yield runtime, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=60)


async def load_scenario(runtime: ServiceRuntime, kafka: KafkaSettings) -> None:
    events, late = scenario()
    await produce(kafka, *events, *late)
    pool = runtime.pool
    assert pool is not None
    expected = len({e.event_id for e in events + late}) - 1
    await eventually(lambda: pool.fetchval(
        "SELECT count(*) = $1 FROM processed_events WHERE consumer = 'reporting'", expected), timeout=60)


async def chromium(*args: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1280,1600", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        return process.returncode or 0, out.decode(errors="replace")


async def test_monthly_and_quarterly_reports_in_json_and_csv_behind_the_reporting_role(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    async with serving(database_url, kafka_settings) as (runtime, base):
        await load_scenario(runtime, kafka_settings)
        store = TokenStore(runtime.pool)
        _, reader = await store.create("T-PERF", "reporting")
        _, auditor = await store.create("M-0333", "auditor")
        ok = {"Authorization": f"Bearer {reader}"}
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            assert (await http.get("/reports/monthly/2013-10")).status_code == 401
            forbidden = await http.get("/reports/monthly/2013-10", headers={"Authorization": f"Bearer {auditor}"})
            assert forbidden.status_code == 403
            bad = await http.get("/reports/monthly/2013-13", headers=ok)
            assert bad.status_code == 422 and "month" in bad.json()["detail"]
            bad_window = await http.get("/reports/figures", params={"window": 2}, headers=ok)
            assert bad_window.status_code == 422 and "window" in bad_window.json()["detail"]

            monthly = (await http.get("/reports/monthly/2013-10", headers=ok)).json()
            sections = {s["service"]: s for s in monthly["services"]}
            assert list(sections) == ["first-response", "safeguarding-and-support", "all"]
            everyone = sections["all"]
            assert (everyone["audits_completed"], everyone["audits_allocated"],
                    everyone["allocated_audits_completed"], everyone["percent_of_allocation_completed"]) == (
                2, 4, 2, 50.0)
            assert everyone["overall_grades"] == {
                "outstanding": 0, "good": 0, "requires-improvement": 1, "inadequate": 1}
            assert everyone["grades_by_domain"]["supervision"]["requires-improvement"] == 1
            assert [(t["theme"], t["audits"], t["per_100_audits"]) for t in everyone["top_themes"]] == [
                ("supervision", 2, 100.0), ("direct-work", 1, 50.0)]
            assert everyone["indicators"] == [{
                "question_id": "chronology-up-to-date", "theme": "chronologies", "yes": 1, "no": 1,
                "not_applicable": 0, "percent_yes": 50.0}]
            assert (everyone["practice_concerns"], everyone["audits_overdue"], everyone["escalations_raised"],
                    everyone["complaints_received"]) == (1, 1, 2, 1)
            assert everyone["participation"]["child"] == {"audits": 1, "percent": 50.0}

            as_csv = await http.get("/reports/monthly/2013-10", params={"format": "csv"}, headers=ok)
            assert as_csv.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(as_csv.text)))
            assert rows[0] == ["month", "service", "section", "item", "detail", "count", "denominator", "rate"]
            assert ["2013-10", "all", "theme", "supervision", "", "2", "2", "100.0"] in rows

            quarterly = (await http.get("/reports/quarterly/2013-10", headers=ok)).json()
            assert quarterly["quarter"] == {"from": "2013-08", "to": "2013-10"}
            assert quarterly["audits_completed"] == 3
            assert quarterly["key_areas_for_practice_development"] == ["supervision", "children-in-need",
                                                                       "direct-work"]
            first = quarterly["themes_by_prevalence"][0]
            assert (first["theme"], first["audits_finding"], first["per_100_audits"], first["change"],
                    first["practice_concerns"]) == ("supervision", 3, 100.0, None, 1)
            q_csv = await http.get("/reports/quarterly/2013-10", params={"format": "csv", "service": "first-response"},
                                   headers=ok)
            q_rows = list(csv.DictReader(io.StringIO(q_csv.text)))
            assert [(r["theme"], r["prevalence_rank"], r["audits_finding"]) for r in q_rows][:2] == [
                ("supervision", "1", "2"), ("direct-work", "2", "1")]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
async def test_the_dashboard_renders_its_charts_and_tables_in_headless_chromium(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    async with serving(database_url, kafka_settings) as (runtime, base):
        await load_scenario(runtime, kafka_settings)
        _, token = await TokenStore(runtime.pool).create("T-PERF", "reporting")
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            assert (await http.get("/dashboard")).status_code == 401
        url = f"{base}/dashboard?token={token}&period_end=2013-10"
        code, dom = await chromium("--dump-dom", url)
        assert code == 0
        assert "Key areas for practice development" in dom
        assert dom.count('class="chart"') == 4  # four server-drawn SVG charts, inline
        assert "<li>Supervision</li>" in dom
        assert 'id="quarterly"' in dom and 'id="collation"' in dom
        assert "Themes found in audits" in dom
        assert token not in dom  # the token went into a cookie, not the page
        shot = tmp_path / "dashboard.png"
        code, _ = await chromium(f"--screenshot={shot}", url)
        assert code == 0 and shot.exists()
        assert shot.stat().st_size > 50_000, "a dashboard with four charts is not a blank page"
