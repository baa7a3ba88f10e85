"""The actions service on the real broker and database: theme figures in, drift flags out (once, across
a restart), milestone progress from the owners' API, and the Board digest sent to a real SMTP server
with a PDF that names the eleven areas (checked by rendering a page to PNG with pdftoppm)."""

from __future__ import annotations

import asyncio
import email
import socket
import subprocess
from datetime import UTC, date, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from qaf_shared import topics
from qaf_shared.clock import FixedClock
from qaf_shared.contracts import ThemeUpdated
from qaf_shared.contracts.escalations import EscalationRaised
from qaf_shared.envelope import decode, new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import EscalationReason, EscalationRole, EscalationStage, Service, Theme
from qaf_actions.app import definition
from qaf_actions.settings import ActionsSettings
from tests.conftest import eventually
from tests.support.kafka import produce, read_topic
from tests.support.services import running

pytestmark = pytest.mark.integration

COMMUNICATION = "responsiveness-to-families.communication-complaints"


def complaints(count: int, occurred: datetime, period_end: str = "2013-09") -> Any:
    payload = ThemeUpdated(
        theme=Theme.RESPONSIVENESS_TO_FAMILIES, measure="complaint", category="communication", service="all",
        window_months=3, period_end=period_end, count=count, denominator=2500, denominator_kind="open-cases",
        rate=round(100 * count / 2500, 3),
    )
    return new_envelope(payload, source="reporting", occurred_at=occurred)


def settings(database_url: str, kafka: KafkaSettings, **extra: Any) -> ActionsSettings:
    return ActionsSettings(
        database_url=database_url, kafka=kafka, consumer_retry_backoff_s=0.2, outbox_poll_interval_s=0.1,
        **extra,
    )


async def drift_events(kafka: KafkaSettings, expect: int, timeout: float = 20.0) -> list[Any]:
    records = await read_topic(kafka, topics.ACTIONS.name, expect=expect, timeout=timeout)
    return [decode(r.value) for r in records]


def about(events: list[Any], event_type: str, area: str, kind: str) -> list[Any]:
    return [e for e in events if e.event_type == event_type and e.payload.area_id == area and e.payload.kind.value == kind]


async def test_theme_updated_flags_drift_once_across_restarts_and_clears_it(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    defn = lambda: definition(settings(database_url, kafka_settings, clock="event", schedule_enabled=False))
    rising = complaints(30, datetime(2013, 10, 5, 9, tzinfo=UTC))
    async with running(defn()) as service:
        await produce(kafka_settings, rising)
        events = await eventually(
            lambda: _flags(kafka_settings, "responsiveness-to-families", "trend"), timeout=40
        )
        flag = events[0].payload
        assert flag.indicator_id == COMMUNICATION and flag.status.value == "drifting"
        assert flag.as_of == date(2013, 10, 5)
        assert "exact Poisson" in flag.explanation and "10.00 a month" in flag.explanation
        assert flag.figures["count"] == 30 and flag.figures["test"] == "exact-poisson"
        # the same state as of the same date, seen again, says nothing new
        status = await service.http.get(
            "/actions/status", params={"as_of": "2013-10-05"}, headers=await service.token("B-1", "board")
        )
        assert status.status_code == 200
        areas = {a["area_id"]: a for a in status.json()["areas"]}
        assert len(areas) == 11 and areas["responsiveness-to-families"]["status"] == "drifting"

    # restart: the flag is remembered, a figure in the same state raises nothing
    again = complaints(31, datetime(2013, 10, 6, 9, tzinfo=UTC))
    async with running(defn()) as service:
        await produce(kafka_settings, again)
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = 1 FROM processed_events WHERE event_id = $1", again.event_id))
        # the owner reports the overdue "Tri-borough court project" done: its milestone flag clears
        owner = await service.token("dmg", "action-owner")
        posted = await service.http.post(
            "/actions/plan/areas/timeliness-drift/actions/timeliness-drift.1/milestones",
            json={"status": "done", "note": "court project delivered", "updated_on": "2013-10-07"}, headers=owner,
        )
        assert posted.status_code == 202, posted.text
        wrong = await service.http.post(
            "/actions/plan/areas/timeliness-drift/actions/nope/milestones", json={"status": "done"}, headers=owner
        )
        assert wrong.status_code == 404
        bad = await service.http.post(
            "/actions/plan/areas/timeliness-drift/actions/timeliness-drift.1/milestones",
            json={"status": "finished"}, headers=owner,
        )
        assert bad.status_code == 422 and "status" in bad.text
        await eventually(lambda: _flags(kafka_settings, "timeliness-drift", "milestone", "drift-cleared"), timeout=30)
        await _edit_the_plan(service)
        # complaints fall back below the baseline: the trend flag clears
        await produce(kafka_settings, complaints(9, datetime(2013, 11, 3, 9, tzinfo=UTC), period_end="2013-10"))
        await eventually(lambda: _flags(kafka_settings, "responsiveness-to-families", "trend", "drift-cleared"),
                         timeout=30)
        events = await drift_events(kafka_settings, expect=1000, timeout=3)

    flagged = about(events, "drift-flagged", "responsiveness-to-families", "trend")
    cleared = about(events, "drift-cleared", "responsiveness-to-families", "trend")
    assert len(flagged) == 1 and len(cleared) == 1
    milestone = [e for e in events if e.event_type == "action-milestone-updated"]
    assert len(milestone) == 1 and milestone[0].payload.status.value == "done"
    assert b"court project delivered" not in b"".join(e.to_bytes() for e in events)  # notes never travel
    # no flag was ever raised twice for the same thing while it stayed in drift
    keys = [(e.payload.area_id, e.payload.kind, e.payload.indicator_id, e.payload.figures.get("action_id"))
            for e in events if e.event_type == "drift-flagged"]
    assert len(keys) == len(set(keys))


async def _edit_the_plan(service: Any) -> None:
    """qa-admin edits an indicator: a new version, recorded with who and why; stale or bad edits refused."""
    admin = await service.token("U-QA-1", "qa-admin")
    plan = (await service.http.get("/actions/plan", headers=admin)).json()
    assert plan["version"] == 1 and len(plan["plan"]["areas"]) == 11
    fathers = next(a for a in plan["plan"]["areas"] if a["area_id"] == "fathers")
    indicator = fathers["indicators"][0] | {"baseline": {"value": 40.0}, "tolerance": 3.0}
    url = f"/actions/plan/areas/fathers/indicators/{indicator['indicator_id']}"
    changed = await service.http.put(url, headers=admin, json={
        "indicator": indicator, "summary": "baseline from the first quarter's audits", "base_version": 1})
    assert changed.status_code == 200 and changed.json() == {"version": 2}
    stale = await service.http.put(url, headers=admin, json={
        "indicator": indicator, "summary": "again", "base_version": 1})
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    bad = await service.http.put(url, headers=admin, json={
        "indicator": indicator | {"direction": "sideways"}, "summary": "oops"})
    assert bad.status_code == 422 and "direction" in bad.text
    owner = await service.token("dmg", "action-owner")
    assert (await service.http.put(url, headers=owner, json={"indicator": indicator, "summary": "x"})).status_code == 403
    versions = (await service.http.get("/actions/plan/versions", headers=admin)).json()
    assert [(v["version"], v["changed_by"]) for v in versions] == [(1, "seed-file"), (2, "U-QA-1")]
    assert versions[1]["summary"] == "baseline from the first quarter's audits"
    now = (await service.http.get("/actions/plan", headers=admin)).json()
    fathers = next(a for a in now["plan"]["areas"] if a["area_id"] == "fathers")
    assert fathers["indicators"][0]["baseline"]["value"] == 40.0
    assert (await service.http.get("/actions/plan/versions/1", headers=admin)).json()["version"] == 1


async def _flags(kafka: KafkaSettings, area: str, kind: str, event_type: str = "drift-flagged") -> list[Any]:
    return about(await drift_events(kafka, expect=1000, timeout=1.5), event_type, area, kind)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Any:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def pdf_of(message: Message) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            return part.get_payload(decode=True)  # type: ignore[return-value]
    raise AssertionError("the message has no PDF attached")


async def test_the_board_digest_is_sent_once_by_smtp_with_a_pdf_of_the_eleven_areas(
    database_url: str, kafka_settings: KafkaSettings, smtp_server: Any, tmp_path: Path
) -> None:
    port, inbox = smtp_server
    s = settings(
        database_url, kafka_settings, schedule_poll_s=0.5, smtp_port=port,
        board_recipients=["qa-board@council.example"], digest_since=date(2013, 11, 1),
    )
    # the Board of November 2013 meets on Thursday 21st; the digest is due 5 working days before: the 14th
    clock = FixedClock(date(2013, 11, 14))
    async with running(definition(s, clock=clock)) as service:
        await produce(
            kafka_settings,
            complaints(30, datetime(2013, 10, 5, tzinfo=UTC)),
            new_envelope(EscalationRaised(
                escalation_id="E-1", case_id="C-1", service=Service.FIRST_RESPONSE, raised_by_role=EscalationRole.CPA,
                raised_by_id="CPA-1", reason=EscalationReason.DRIFT_AND_DELAY, theme=Theme.TIMELINESS_DRIFT,
                stage=EscalationStage.INFORMAL, addressed_to_team_id="T-1", addressed_to_manager_id="M-1",
                raised_on=date(2013, 10, 1), due_on=date(2013, 10, 8),
            ), source="escalations", occurred_at=datetime(2013, 10, 1, tzinfo=UTC)),
        )
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM ops_escalations"), timeout=30)
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = 1 FROM theme_figures WHERE measure = 'complaint'"), timeout=30)
        # the scheduler issues the November digest by itself (it may have done so before the figures came)
        await eventually(lambda: len(inbox.messages) >= 1, timeout=60)
        admin = await service.token("U-QA-1", "qa-admin")
        forced = await service.http.post("/actions/digests", json={"as_of": "2013-11-14", "force": True}, headers=admin)
        assert forced.status_code == 201, forced.text
        await eventually(lambda: len(inbox.messages) == 2, timeout=30)
        # asking again for the same period sends nothing
        repeat = await service.http.post("/actions/digests", json={"as_of": "2013-11-14"}, headers=admin)
        assert repeat.status_code == 200 and repeat.json()["issued"] is False
        assert repeat.json()["digest_id"] == forced.json()["digest_id"]

        board = await service.token("B-1", "board")
        listed = (await service.http.get("/actions/digests", headers=board)).json()
        assert [d["period"] for d in listed] == ["2013-11", "2013-11"]
        assert listed[-1]["summary"]["areas_by_status"]["drifting"] >= 1
        pdf = await service.http.get(f"/actions/digests/{forced.json()['digest_id']}.pdf", headers=board)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert (await service.http.get("/actions/digests", headers=await service.token("W-1", "auditor"))).status_code == 403
        announced = await read_topic(kafka_settings, topics.BOARD.name, expect=2, timeout=20)

    await asyncio.sleep(0.5)
    assert len(inbox.messages) == 2
    message = inbox.messages[-1]
    assert message["To"] == "qa-board@council.example"
    assert "2013-11" in message["Subject"]
    attached = pdf_of(message)
    assert attached == pdf.content
    issued = [decode(r.value).payload for r in announced]
    assert [p.period for p in issued] == ["2013-11", "2013-11"]
    assert issued[-1].board_date == date(2013, 11, 21) and issued[-1].as_of == date(2013, 11, 14)
    assert issued[-1].overdue_escalations == 1

    pdf_path = tmp_path / "digest.pdf"
    pdf_path.write_bytes(attached)
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    for concern in (
        "Strategy meetings are frequently single agency", "Lack of up to date chronologies on file",
        "Actions lack timeliness", "Responding to families in a timely manner", "Supervision is not always as regular",
        "Case transfer points and changes of social worker", "lacks appropriate levels of challenge",
        "Thresholds are not always consistently applied", "roles of the Child Protection Conference",
        "Father not routinely included", "Early help approach not embedded",
    ):
        assert concern in flat, concern
    assert "Drifting" in flat and "Complaints about communication" in flat

    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")],
                   check=True)
    from PIL import Image

    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    width, height = page.size
    assert height > width > 400  # an A4 portrait page
    colours = page.getcolors(maxcolors=1_000_000) or []
    red = sum(n for n, (r, g, b) in colours if r > 200 and g < 100 and b < 100)
    assert red > 200, "the RAG table shows the drifting areas in red"


async def test_the_cli_produces_the_digest_for_any_as_of_date(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qaf_shared.cli import service_main
    from qaf_actions.entrypoints.cli import extend

    s = settings(database_url, kafka_settings, schedule_enabled=False)
    out = tmp_path / "march.pdf"
    argv = ["digest", "--as-of", "2014-03-13", "--no-send", "--pdf", str(out)]
    assert await asyncio.to_thread(service_main, lambda: definition(s), argv, extend) == 0
    assert "digest-2014-03-1 for 2014-03: issued" in capsys.readouterr().out
    assert out.read_bytes().startswith(b"%PDF")
    assert await asyncio.to_thread(service_main, lambda: definition(s), argv, extend) == 0
    assert "already issued" in capsys.readouterr().out
    status = ["status", "--as-of", "2014-03-13"]
    assert await asyncio.to_thread(service_main, lambda: definition(s), status, extend) == 0
    assert '"supervision"' in capsys.readouterr().out
