"""The Board's alert digest: build it as of a date, render HTML and PDF, store it, announce it, send it.

Issuing a period that already has a digest returns that digest and sends nothing, unless forced.
The digest is stored and announced (`board-digest-issued`) in one transaction, then sent by SMTP; a
digest whose sending failed is sent again by the scheduler (`sent_at` is null until it went).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import structlog

from qaf_shared.contracts.actions import BoardDigestIssued
from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import enqueue
from qaf_shared.vocabulary import AreaStatus

from qaf_actions.adapters import mailer, repository
from qaf_actions.adapters.render import ChartSeries, DigestView, render_html, render_pdf
from qaf_actions.domain.drift import add_months, last_complete_month
from qaf_actions.domain.schedule import period_bounds
from qaf_actions.services import SOURCE, Context, at_midnight, evaluate_as_of, plan_in_force

log = structlog.get_logger(__name__)

MAX_CHARTS = 8


@dataclass
class DigestOutcome:
    digest_id: str
    period: str
    issued: bool  # False: the period already had a digest, nothing was sent
    sent: bool
    summary: dict[str, Any]


async def _view(conn: asyncpg.Connection, ctx: Context, *, digest_id: str, period: str, board_date: date,
                as_of: date) -> tuple[DigestView, dict[str, Any]]:
    version, plan = await plan_in_force(conn, ctx)
    evaluation = await evaluate_as_of(conn, ctx, as_of)
    previous = await repository.latest_digest(conn, before_period=period)
    previous_as_of = previous["as_of"] if previous else None
    events = await repository.drift_events(conn, after=previous_as_of, until=as_of)
    raised = [e for e in events if e["change"] == "flagged"]
    cleared = [e for e in events if e["change"] == "cleared"]
    year_start = ctx.year_start(as_of)
    ops = await repository.ops_figures(conn, as_of, year_start)
    months = min(12, max(0, (as_of.year - year_start.year) * 12 + as_of.month - year_start.month + 1))
    s = ctx.settings

    areas = []
    charts: list[ChartSeries] = []
    last = last_complete_month(as_of)
    for area_eval in evaluation.areas:
        area = plan.area(area_eval.area_id)
        assert area is not None
        areas.append({
            "area_id": area_eval.area_id, "title": area.area_of_concern, "status": area_eval.status.value,
            "explanation": area_eval.explanation,
        })
        for r in area_eval.indicators:
            if r.status not in (AreaStatus.DRIFTING, AreaStatus.AT_RISK) or len(charts) >= MAX_CHARTS:
                continue
            ind = next(i for i in area.indicators if i.indicator_id == r.indicator_id)
            series = await repository.figure_series(conn, ind.figure, ind.window_months, add_months(last, -11), last)
            points = [
                (pe, (100.0 * c / d) if ind.kind == "proportion" else c / ind.window_months)
                for pe, c, d in series if ind.kind != "proportion" or d > 0
            ]
            charts.append(ChartSeries(
                title=f"{ind.description} — rolling {ind.window_months} months ({r.status.value})",
                unit="%" if ind.kind == "proportion" else "a month",
                points=points,
                baseline=r.figures.get("baseline"),  # type: ignore[arg-type]
                tolerated=r.figures.get("tolerated"),  # type: ignore[arg-type]
                target=ind.target,
            ))
    counts = {k.value: v for k, v in evaluation.counts().items()}
    view = DigestView(
        digest_id=digest_id, period=period, board_date=board_date.isoformat(), as_of=as_of.isoformat(),
        plan_version=version, areas=areas, counts=counts,
        raised=[_flag(e) for e in raised], cleared=[_flag(e) for e in cleared],
        previous_as_of=previous_as_of.isoformat() if previous_as_of else None,
        ops=ops, year_start=year_start.isoformat(), target_low=s.yearly_target_low, target_high=s.yearly_target_high,
        pro_rata_low=math.floor(s.yearly_target_low * months / 12), pro_rata_high=math.ceil(s.yearly_target_high * months / 12),
        charts=charts,
    )
    summary = {
        "areas_by_status": counts, "flags_raised": len(raised), "flags_cleared": len(cleared),
        "overdue_audits": ops["audits_overdue"], "overdue_escalations": ops["escalations_overdue"],
        "outstanding_concerns": ops["concerns_last_quarter"], "ops": ops, "plan_version": version,
        "areas": {a["area_id"]: a["status"] for a in areas},
    }
    return view, summary


def _flag(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in e.items() if k in
            ("change", "area_id", "kind", "subject_id", "status", "as_of", "explanation")}


async def issue_digest(
    pool: asyncpg.Pool, ctx: Context, *, as_of: date, period: str | None = None, force: bool = False, send: bool = True
) -> DigestOutcome:
    schedule = ctx.schedule
    period = period or schedule.period_for(as_of)
    board_date = schedule.board_date(*period_bounds(period))
    # one issue per period at a time (the scheduler and an API call may race): a session lock on its own
    # connection, held while the digest is built, rendered, stored and announced
    async with pool.acquire() as lock:
        await lock.execute("SELECT pg_advisory_lock(hashtext($1))", f"digest:{period}")
        try:
            outcome = await _issue_locked(pool, ctx, as_of=as_of, period=period, board_date=board_date, force=force,
                                          send=send)
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", f"digest:{period}")
    if outcome.issued and send:
        outcome.sent = await deliver(pool, ctx, outcome.digest_id)
    return outcome


async def _issue_locked(
    pool: asyncpg.Pool, ctx: Context, *, as_of: date, period: str, board_date: date, force: bool, send: bool
) -> DigestOutcome:
    async with pool.acquire() as conn:
        existing = await repository.latest_digest(conn, period)
        if existing is not None and not force:
            return DigestOutcome(existing["digest_id"], period, False, existing["sent_at"] is not None,
                                 _load(existing["summary"]))
        n = await conn.fetchval("SELECT count(*) FROM digests WHERE period = $1", period)
        digest_id = f"digest-{period}-{n + 1}"
        view, summary = await _view(conn, ctx, digest_id=digest_id, period=period, board_date=board_date, as_of=as_of)
    html = await asyncio.to_thread(render_html, view)
    pdf = await asyncio.to_thread(render_pdf, html)
    sha = hashlib.sha256(pdf).hexdigest()
    issued_at = datetime.now(UTC)
    recipients = list(ctx.settings.board_recipients) if send else []
    async with pool.acquire() as conn, conn.transaction():
        await repository.insert_digest(
            conn, digest_id=digest_id, period=period, board_date=board_date, as_of=as_of, issued_at=issued_at,
            forced=existing is not None, html=html, pdf=pdf, pdf_sha256=sha, summary=summary, recipients=recipients,
        )
        payload = BoardDigestIssued(
            digest_id=digest_id, period=period, board_date=board_date, as_of=as_of, issued_at=issued_at,
            areas_by_status=summary["areas_by_status"], flags_raised=summary["flags_raised"],
            flags_cleared=summary["flags_cleared"], overdue_audits=summary["overdue_audits"],
            overdue_escalations=summary["overdue_escalations"], outstanding_concerns=summary["outstanding_concerns"],
            pdf_sha256=sha,
        )
        await enqueue(conn, new_envelope(payload, source=SOURCE, occurred_at=at_midnight(as_of)))
    _write_files(ctx, period, digest_id, html, pdf)
    log.info("digest.issued", digest_id=digest_id, period=period, as_of=as_of.isoformat())
    return DigestOutcome(digest_id, period, True, False, summary)


def _load(raw: Any) -> dict[str, Any]:
    import json

    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _write_files(ctx: Context, period: str, digest_id: str, html: str, pdf: bytes) -> None:
    out = ctx.settings.digest_output_dir
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{digest_id}.pdf").write_bytes(pdf)
    (out / f"{digest_id}.html").write_text(html, encoding="utf-8")


async def deliver(pool: asyncpg.Pool, ctx: Context, digest_id: str) -> bool:
    """Send a stored digest to the Board's recipients; True once it went. The row is locked while it is
    sent, so the scheduler and an API call never send the same digest twice."""
    if not ctx.settings.board_recipients:
        return False
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT * FROM digests WHERE digest_id = $1 AND sent_at IS NULL AND cardinality(recipients) > 0
               FOR UPDATE SKIP LOCKED""",
            digest_id,
        )
        if row is None:
            return False
        summary = _load(row["summary"])
        text = "\n".join(
            [f"QA Board alert digest {row['period']} (Board of {row['board_date']}), figures as of {row['as_of']}.", ""]
            + [f"- {area}: {status}" for area, status in summary.get("areas", {}).items()]
            + ["", f"Flags raised: {summary['flags_raised']}; cleared: {summary['flags_cleared']}.",
               "The full digest is attached as a PDF."]
        )
        message = mailer.digest_message(
            ctx.settings, period=row["period"], board_date=row["board_date"].isoformat(), html=row["html"], text=text,
            pdf=bytes(row["pdf"]), digest_id=digest_id,
        )
        try:
            await mailer.send(ctx.settings, message)
        except Exception as exc:  # the scheduler tries again
            log.warning("digest.send_failed", digest_id=digest_id, error=type(exc).__name__)
            return False
        await repository.mark_sent(conn, digest_id)
    log.info("digest.sent", digest_id=digest_id, recipients=len(ctx.settings.board_recipients))
    return True


async def run_schedule_once(pool: asyncpg.Pool, ctx: Context) -> list[DigestOutcome]:
    """Re-evaluate drift at today's date, issue every digest that fell due, and resend unsent ones."""
    from qaf_actions.services import reevaluate

    async with pool.acquire() as conn:
        today = await ctx.clock.today(conn)
        since = ctx.settings.digest_since or await ctx.clock.since(conn)
        unsent = await repository.unsent_digests(conn)
    if today is None or since is None:
        return []
    async with pool.acquire() as conn, conn.transaction():
        await reevaluate(conn, ctx, as_of=today)
    outcomes = []
    for period, issue_date, _board in ctx.schedule.due_periods(since, today):
        outcome = await issue_digest(pool, ctx, as_of=issue_date, period=period)
        if outcome.issued:
            outcomes.append(outcome)
    for row in unsent:
        await deliver(pool, ctx, row["digest_id"])
    return outcomes
