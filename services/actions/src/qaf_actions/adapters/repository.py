"""PostgreSQL repository of the actions service: the plan's versions, figures, milestones, drift state,
the event clock, the operational work ledger and the digests. A Repository works on one connection (and
so in its transaction)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from qaf_shared.contracts import (
    AuditAllocated,
    AuditCompleted,
    AuditOverdue,
    AuditReallocated,
    ComplaintLogged,
    ComplaintResolved,
    EscalationOverdue,
    EscalationProgressed,
    EscalationRaised,
    EscalationResolved,
    PracticeConcernRaised,
    ThemeUpdated,
)
from qaf_shared.vocabulary import MilestoneStatus

from qaf_actions.domain.drift import Figure, FigureKey, MilestoneHistory, Transition, spec_key
from qaf_actions.domain.plan import ActionPlan, load_plan

PLAN_LOCK = 7_001_007  # advisory lock: one plan change at a time
_PLANS: dict[str, ActionPlan] = {}  # parsed plans by the digest of their stored text (shared by all connections)


class Repository:
    """The service's tables over one connection (and so inside its transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    # -- the plan --------------------------------------------------------------------------------------

    async def current_plan(self, seed_text: str) -> tuple[int, ActionPlan]:
        """The plan in force; the packaged file becomes version 1 the first time."""
        latest = await self._conn.fetchrow("SELECT version, md5(plan::text) AS digest FROM plan_versions ORDER BY version DESC LIMIT 1")
        if latest is not None:
            if latest["digest"] not in _PLANS:
                raw = await self._conn.fetchval("SELECT plan FROM plan_versions WHERE version = $1", latest["version"])
                _PLANS[latest["digest"]] = ActionPlan.model_validate_json(raw)
            return latest["version"], _PLANS[latest["digest"]]
        row = await self._conn.fetchrow("SELECT version, plan FROM plan_versions ORDER BY version DESC LIMIT 1")
        if row is None:
            plan = load_plan(seed_text)
            sha = hashlib.sha256(seed_text.encode()).hexdigest()
            await self._conn.execute(
                """INSERT INTO plan_versions (version, plan, source, changed_by, summary)
                   VALUES (1, $1, $2, 'seed-file', $3) ON CONFLICT (version) DO NOTHING""",
                plan.model_dump_json(), f"file:{sha}",
                f"loaded from the packaged action plan file (plan_version {plan.plan_version})",
            )
            row = await self._conn.fetchrow("SELECT version, plan FROM plan_versions ORDER BY version DESC LIMIT 1")
        return row["version"], ActionPlan.model_validate_json(row["plan"])

    async def lock_plan(self) -> None:
        """One plan change at a time, until the transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", PLAN_LOCK)

    async def add_plan_version(self, version: int, plan: ActionPlan, *, changed_by: str, summary: str) -> None:
        await self._conn.execute(
            "INSERT INTO plan_versions (version, plan, source, changed_by, summary) VALUES ($1, $2, 'api', $3, $4)",
            version, plan.model_dump_json(), changed_by, summary,
        )

    async def plan_history(self) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT version, source, changed_by, summary, changed_at FROM plan_versions ORDER BY version"
        )
        return [dict(r) for r in rows]

    async def plan_at_version(self, version: int) -> ActionPlan | None:
        raw = await self._conn.fetchval("SELECT plan FROM plan_versions WHERE version = $1", version)
        return ActionPlan.model_validate_json(raw) if raw else None

    # -- figures ---------------------------------------------------------------------------------------

    async def upsert_figures(self, figures: Sequence[tuple[ThemeUpdated, UUID, datetime]]) -> None:
        """Record the latest value of each figure (a later message for the same figure replaces an earlier one)."""
        latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for p, event_id, occurred_at in figures:
            key = (*spec_key(p), p.window_months, p.period_end)
            latest[key] = (*key, p.count, p.denominator, p.rate, event_id, occurred_at)
        if not latest:
            return
        await self._conn.execute(
            """
            INSERT INTO theme_figures (theme, measure, question_id, category, service, window_months, period_end,
                                       count, denominator, rate, event_id, occurred_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                                 $8::int[], $9::int[], $10::float8[], $11::uuid[], $12::timestamptz[])
            ON CONFLICT (theme, measure, question_id, category, service, window_months, period_end)
            DO UPDATE SET count = EXCLUDED.count, denominator = EXCLUDED.denominator, rate = EXCLUDED.rate,
                          event_id = EXCLUDED.event_id, occurred_at = EXCLUDED.occurred_at
            """,
            *[list(column) for column in zip(*latest.values(), strict=True)],
        )

    async def load_figures(self, plan: ActionPlan) -> dict[FigureKey, Figure]:
        specs = sorted({spec_key(s) for s in plan.figures_watched()})
        if not specs:
            return {}
        rows = await self._conn.fetch(
            """
            SELECT f.theme, f.measure, f.question_id, f.category, f.service, f.window_months, f.period_end,
                   f.count, f.denominator
            FROM theme_figures f
            JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS s(theme, measure, q, c, service)
              ON f.theme = s.theme AND f.measure = s.measure AND f.question_id = s.q AND f.category = s.c
             AND f.service = s.service
            """,
            *[list(col) for col in zip(*specs, strict=True)],
        )
        return {
            (r["theme"], r["measure"], r["question_id"], r["category"], r["service"], r["window_months"], r["period_end"]):
            Figure(r["count"], r["denominator"])
            for r in rows
        }

    async def figure_series(self, spec: Any, window: int, first: str, last: str) -> list[tuple[str, int, int]]:
        theme, measure, q, c, service = spec_key(spec)
        rows = await self._conn.fetch(
            """SELECT period_end, count, denominator FROM theme_figures
               WHERE theme = $1 AND measure = $2 AND question_id = $3 AND category = $4 AND service = $5
                 AND window_months = $6 AND period_end BETWEEN $7 AND $8 ORDER BY period_end""",
            theme, measure, q, c, service, window, first, last,
        )
        return [(r["period_end"], r["count"], r["denominator"]) for r in rows]

    # -- milestones ------------------------------------------------------------------------------------

    async def record_milestone(self, *, event_id: UUID, area_id: str, action_id: str, status: MilestoneStatus,
        updated_by: str, updated_on: date, note: str | None, applied: bool,
    ) -> None:
        await self._conn.execute(
            """INSERT INTO milestone_updates (event_id, area_id, action_id, status, updated_by, updated_on, note, applied)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (event_id) DO UPDATE SET applied = milestone_updates.applied OR EXCLUDED.applied""",
            event_id, area_id, action_id, status.value, updated_by, updated_on, note, applied,
        )

    async def load_milestones(self) -> MilestoneHistory:
        """Applied milestone updates (seen on the topic), in the order reported."""
        rows = await self._conn.fetch(
            "SELECT action_id, status, updated_on FROM milestone_updates WHERE applied ORDER BY updated_on, recorded_at"
        )
        out: dict[str, list[tuple[date, MilestoneStatus]]] = defaultdict(list)
        for r in rows:
            out[r["action_id"]].append((r["updated_on"], MilestoneStatus(r["status"])))
        return out

    async def milestone_log(self, area_id: str | None = None) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT event_id, area_id, action_id, status, updated_by, updated_on, note, recorded_at
               FROM milestone_updates WHERE ($1::text IS NULL OR area_id = $1) ORDER BY updated_on, recorded_at""",
            area_id,
        )
        return [dict(r) for r in rows]

    # -- event clock -----------------------------------------------------------------------------------

    async def advance_clock(self, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO event_clock (singleton, first_at, latest_at) VALUES (true, $1, $1)
               ON CONFLICT (singleton) DO UPDATE SET latest_at = GREATEST(event_clock.latest_at, EXCLUDED.latest_at),
                                                     first_at = LEAST(event_clock.first_at, EXCLUDED.first_at)""",
            occurred_at,
        )

    async def first_event_time(self) -> datetime | None:
        return await self._conn.fetchval("SELECT first_at FROM event_clock")

    async def latest_event_time(self) -> datetime | None:
        return await self._conn.fetchval("SELECT latest_at FROM event_clock")

    # -- drift state -----------------------------------------------------------------------------------

    async def last_evaluated(self) -> date | None:
        return await self._conn.fetchval("SELECT as_of FROM drift_evaluations")

    async def active_findings(self, *, lock: bool = False) -> dict[tuple[str, str, str], str | None]:
        if lock:
            await self._conn.execute("SELECT pg_advisory_xact_lock($1)", PLAN_LOCK + 1)
        rows = await self._conn.fetch("SELECT area_id, kind, subject_id, indicator_id FROM drift_state")
        return {(r["area_id"], r["kind"], r["subject_id"]): r["indicator_id"] for r in rows}

    async def apply_transition(self, t: Transition, as_of: date, event_id: UUID) -> None:
        if t.change == "flagged":
            await self._conn.execute(
                """INSERT INTO drift_state (area_id, kind, subject_id, indicator_id, since, explanation)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                t.area_id, t.kind.value, t.subject_id, t.indicator_id, as_of, t.explanation,
            )
        else:
            await self._conn.execute(
                "DELETE FROM drift_state WHERE area_id = $1 AND kind = $2 AND subject_id = $3",
                t.area_id, t.kind.value, t.subject_id,
            )
        await self._conn.execute(
            """INSERT INTO drift_events (event_id, change, area_id, kind, subject_id, indicator_id, status, as_of,
                                         explanation, figures)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            event_id, t.change, t.area_id, t.kind.value, t.subject_id, t.indicator_id, t.status.value, as_of,
            t.explanation, json.dumps(t.figures),
        )

    async def mark_evaluated(self, as_of: date, plan_version: int) -> None:
        await self._conn.execute(
            """INSERT INTO drift_evaluations (singleton, as_of, plan_version) VALUES (true, $1, $2)
               ON CONFLICT (singleton) DO UPDATE SET as_of = EXCLUDED.as_of, plan_version = EXCLUDED.plan_version,
                                                     evaluated_at = now()""",
            as_of, plan_version,
        )

    async def drift_events(self, after: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT event_id, change, area_id, kind, subject_id, indicator_id, status, as_of, explanation, figures,
                      recorded_at
               FROM drift_events
               WHERE ($1::date IS NULL OR as_of > $1) AND ($2::date IS NULL OR as_of <= $2) ORDER BY id""",
            after, until,
        )
        return [dict(r) | {"figures": json.loads(r["figures"])} for r in rows]

    # -- operational work for the digest ---------------------------------------------------------------

    async def audit_allocated(self, p: AuditAllocated, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_audits (audit_id, month, allocated_on, due_on) VALUES ($1, $2, $3, $4)
               ON CONFLICT (audit_id) DO UPDATE SET month = EXCLUDED.month, allocated_on = EXCLUDED.allocated_on,
                                                    due_on = EXCLUDED.due_on""",
            p.audit_id, p.month, occurred_at.date(), p.due_on,
        )

    async def audit_reallocated(self, p: AuditReallocated, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_audits (audit_id, due_on) VALUES ($1, $2)
               ON CONFLICT (audit_id) DO UPDATE SET due_on = EXCLUDED.due_on""",
            p.audit_id, p.due_on,
        )

    async def audit_completed(self, p: AuditCompleted, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_audits (audit_id, month, completed_on) VALUES ($1, $2, $3)
               ON CONFLICT (audit_id) DO UPDATE SET completed_on = EXCLUDED.completed_on""",
            p.audit_id, p.month, p.completed_at.date(),
        )

    async def audit_overdue(self, p: AuditOverdue, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_audits (audit_id, due_on, overdue_on) VALUES ($1, $2, $3)
               ON CONFLICT (audit_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on,
                                                    due_on = coalesce(ops_audits.due_on, EXCLUDED.due_on)""",
            p.audit_id, p.due_on, occurred_at.date(),
        )

    async def practice_concern_raised(self, p: PracticeConcernRaised, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_concerns (concern_id, service, reason, raised_on) VALUES ($1, $2, $3, $4)
               ON CONFLICT (concern_id) DO NOTHING""",
            p.concern_id, p.service.value, p.reason.value, p.raised_at.date(),
        )

    async def escalation_raised(self, p: EscalationRaised, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_escalations (escalation_id, raised_on, due_on) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET raised_on = EXCLUDED.raised_on, due_on = EXCLUDED.due_on""",
            p.escalation_id, p.raised_on, p.due_on,
        )

    async def escalation_progressed(self, p: EscalationProgressed, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_escalations (escalation_id, due_on) VALUES ($1, $2)
               ON CONFLICT (escalation_id) DO UPDATE SET due_on = EXCLUDED.due_on, overdue_on = NULL""",
            p.escalation_id, p.due_on,
        )

    async def escalation_resolved(self, p: EscalationResolved, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_escalations (escalation_id, resolved_on, within_timescale) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET resolved_on = EXCLUDED.resolved_on,
                                                         within_timescale = EXCLUDED.within_timescale""",
            p.escalation_id, p.resolved_on, p.within_timescale,
        )

    async def escalation_overdue(self, p: EscalationOverdue, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_escalations (escalation_id, due_on, overdue_on) VALUES ($1, $2, $3)
               ON CONFLICT (escalation_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on""",
            p.escalation_id, p.due_on, occurred_at.date(),
        )

    async def complaint_logged(self, p: ComplaintLogged, occurred_at: datetime) -> None:
        # a complaint moving to a further stage is logged again: it is open again, with the new due date
        await self._conn.execute(
            """INSERT INTO ops_complaints (complaint_id, category, received_on, due_on) VALUES ($1, $2, $3, $4)
               ON CONFLICT (complaint_id) DO UPDATE SET due_on = EXCLUDED.due_on, resolved_on = NULL,
                                                        within_timescale = NULL""",
            p.complaint_id, p.category.value, p.received_on, p.due_on,
        )

    async def complaint_resolved(self, p: ComplaintResolved, occurred_at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO ops_complaints (complaint_id, category, resolved_on, within_timescale) VALUES ($1, $2, $3, $4)
               ON CONFLICT (complaint_id) DO UPDATE SET resolved_on = EXCLUDED.resolved_on,
                                                        within_timescale = EXCLUDED.within_timescale""",
            p.complaint_id, p.category.value, p.resolved_on, p.within_timescale,
        )

    async def ops_figures(self, as_of: date, year_start: date) -> dict[str, Any]:
        """Overdue work and progress against the yearly target as of a date (from the events' own dates)."""
        audits = await self._conn.fetchrow(
            """
            SELECT
              count(*) FILTER (WHERE allocated_on BETWEEN $2 AND $1) AS allocated,
              count(*) FILTER (WHERE completed_on BETWEEN $2 AND $1) AS completed,
              count(*) FILTER (WHERE coalesce(due_on, overdue_on) < $1
                                 AND (overdue_on IS NULL OR overdue_on <= $1)
                                 AND coalesce(allocated_on, overdue_on) <= $1
                                 AND (completed_on IS NULL OR completed_on > $1)) AS overdue
            FROM ops_audits
            """,
            as_of, year_start,
        )
        escalations = await self._conn.fetchrow(
            """
            SELECT
              count(*) FILTER (WHERE raised_on <= $1 AND (resolved_on IS NULL OR resolved_on > $1)) AS open,
              count(*) FILTER (WHERE raised_on <= $1 AND (resolved_on IS NULL OR resolved_on > $1)
                                 AND (due_on < $1 OR overdue_on <= $1)) AS overdue,
              count(*) FILTER (WHERE resolved_on BETWEEN $2 AND $1) AS resolved,
              count(*) FILTER (WHERE resolved_on BETWEEN $2 AND $1 AND within_timescale) AS resolved_in_time
            FROM ops_escalations
            """,
            as_of, year_start,
        )
        complaints = await self._conn.fetchrow(
            """
            SELECT
              count(*) FILTER (WHERE received_on <= $1 AND (resolved_on IS NULL OR resolved_on > $1)) AS open,
              count(*) FILTER (WHERE received_on <= $1 AND (resolved_on IS NULL OR resolved_on > $1) AND due_on < $1) AS overdue,
              count(*) FILTER (WHERE resolved_on BETWEEN $2 AND $1) AS resolved,
              count(*) FILTER (WHERE resolved_on BETWEEN $2 AND $1 AND within_timescale) AS resolved_in_time
            FROM ops_complaints
            """,
            as_of, year_start,
        )
        concerns = await self._conn.fetchrow(
            """SELECT count(*) FILTER (WHERE raised_on <= $1 AND raised_on > $1 - 91) AS last_quarter,
                      count(*) FILTER (WHERE raised_on BETWEEN $2 AND $1) AS year_to_date
               FROM ops_concerns""",
            as_of, year_start,
        )
        return {
            "audits_allocated": audits["allocated"],
            "audits_completed": audits["completed"],
            "audits_overdue": audits["overdue"],
            "escalations_open": escalations["open"],
            "escalations_overdue": escalations["overdue"],
            "escalations_resolved": escalations["resolved"],
            "escalations_resolved_in_time": escalations["resolved_in_time"],
            "complaints_open": complaints["open"],
            "complaints_overdue": complaints["overdue"],
            "complaints_resolved": complaints["resolved"],
            "complaints_resolved_in_time": complaints["resolved_in_time"],
            "concerns_last_quarter": concerns["last_quarter"],
            "concerns_year_to_date": concerns["year_to_date"],
        }

    # -- digests ---------------------------------------------------------------------------------------

    async def latest_digest(self, period: str | None = None, *, before_period: str | None = None) -> asyncpg.Record | None:
        return await self._conn.fetchrow(
            """SELECT digest_id, period, board_date, as_of, issued_at, forced, pdf_sha256, summary, recipients, sent_at
               FROM digests WHERE ($1::text IS NULL OR period = $1) AND ($2::text IS NULL OR period < $2)
               ORDER BY period DESC, issued_at DESC LIMIT 1""",
            period, before_period,
        )

    async def insert_digest(self, **row: Any) -> None:
        await self._conn.execute(
            """INSERT INTO digests (digest_id, period, board_date, as_of, issued_at, forced, html, pdf, pdf_sha256,
                                    summary, recipients)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            row["digest_id"], row["period"], row["board_date"], row["as_of"], row["issued_at"], row["forced"],
            row["html"], row["pdf"], row["pdf_sha256"], json.dumps(row["summary"]), row["recipients"],
        )

    async def lock_digest_period(self, period: str) -> None:
        """One issue of a period at a time (the scheduler and an API call may race), until the transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"digest:{period}")

    async def digests_issued(self, period: str) -> int:
        return await self._conn.fetchval("SELECT count(*) FROM digests WHERE period = $1", period)

    async def unsent_digest(self, digest_id: str) -> asyncpg.Record | None:
        """The digest, locked for sending, if it has recipients, was not sent yet, and no one else is sending it."""
        return await self._conn.fetchrow(
            """SELECT * FROM digests WHERE digest_id = $1 AND sent_at IS NULL AND cardinality(recipients) > 0
               FOR UPDATE SKIP LOCKED""",
            digest_id,
        )

    async def mark_sent(self, digest_id: str) -> None:
        await self._conn.execute("UPDATE digests SET sent_at = $2 WHERE digest_id = $1", digest_id, datetime.now(UTC))

    async def unsent_digests(self) -> list[asyncpg.Record]:
        return await self._conn.fetch("SELECT digest_id FROM digests WHERE sent_at IS NULL AND cardinality(recipients) > 0 ORDER BY issued_at")

    async def digest_list(self) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT digest_id, period, board_date, as_of, issued_at, forced, pdf_sha256, summary, recipients, sent_at
               FROM digests ORDER BY period, issued_at"""
        )
        return [dict(r) | {"summary": json.loads(r["summary"])} for r in rows]

    async def digest_document(self, digest_id: str) -> asyncpg.Record | None:
        return await self._conn.fetchrow("SELECT * FROM digests WHERE digest_id = $1", digest_id)
