"""PostgreSQL repository of the audits service: every query lives here, on the connection it is given."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from qaf_shared.contracts.audits import PracticeConcernRaised
from qaf_shared.vocabulary import Grade, Service

from qaf_audits.domain.audits import Audit, AuditStatus, ValidSubmission
from qaf_audits.domain.moderation import GradePair
from qaf_audits.domain.templates import Template, parse_template

_AUDIT_COLUMNS = """
    audit_id, case_id, service, team_id, auditor_id, lead_auditor_id, team_manager_id, month, due_on,
    template_id, template_version, allocated_at, status, overdue_flagged_at, origin
"""


def _template(row: asyncpg.Record) -> Template:
    return parse_template(json.loads(row["definition"]), version=row["version"])


def _audit(row: asyncpg.Record) -> Audit:
    return Audit(
        audit_id=row["audit_id"],
        case_id=row["case_id"],
        service=Service(row["service"]),
        team_id=row["team_id"],
        auditor_id=row["auditor_id"],
        lead_auditor_id=row["lead_auditor_id"],
        team_manager_id=row["team_manager_id"],
        month=row["month"],
        due_on=row["due_on"],
        template_id=row["template_id"],
        template_version=row["template_version"],
        allocated_at=row["allocated_at"],
        status=AuditStatus(row["status"]),
        overdue_flagged=row["overdue_flagged_at"] is not None,
    )


def _allocation(audit: Audit) -> tuple[Any, ...]:
    """Who audits which case, and by when: the columns an allocation sets, in this order."""
    return (
        audit.audit_id,
        audit.case_id,
        audit.service.value,
        audit.team_id,
        audit.auditor_id,
        audit.lead_auditor_id,
        audit.team_manager_id,
        audit.month,
        audit.due_on,
    )


_CONCERN_COLUMNS = """
    concern_id, audit_id, case_id, service, team_id, team_manager_id, reason, domains, raised_at,
    acknowledged_at, acknowledged_by
"""


class Repository:
    """The audits service's tables, read and written on one connection (the unit of work's transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_template(self, template_id: str) -> None:
        """Serialise the loads of one template id until the transaction ends (versions are numbered in turn)."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"template:{template_id}")

    async def get_template(self, template_id: str, version: int | None = None) -> Template | None:
        if version is None:
            row = await self._conn.fetchrow(
                "SELECT version, definition FROM templates WHERE template_id = $1 ORDER BY version DESC LIMIT 1",
                template_id,
            )
        else:
            row = await self._conn.fetchrow(
                "SELECT version, definition FROM templates WHERE template_id = $1 AND version = $2",
                template_id,
                version,
            )
        return _template(row) if row else None

    async def template_digest(self, template_id: str, version: int) -> str | None:
        return await self._conn.fetchval(
            "SELECT digest FROM templates WHERE template_id = $1 AND version = $2", template_id, version
        )

    async def latest_version(self, template_id: str) -> int | None:
        return await self._conn.fetchval("SELECT max(version) FROM templates WHERE template_id = $1", template_id)

    async def insert_template(self, template: Template, *, source: str, loaded_by: str | None = None) -> bool:
        """Store a template version. Returns False if that version was already there (left unchanged)."""
        result = await self._conn.execute(
            """
            INSERT INTO templates (template_id, version, kind, title, definition, digest, source, loaded_by)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
            ON CONFLICT (template_id, version) DO NOTHING
            """,
            template.id,
            template.version,
            template.kind.value,
            template.title,
            json.dumps(dict(template.definition)),
            template.digest,
            source,
            loaded_by,
        )
        return result.endswith(" 1")

    async def list_templates(self) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT template_id, version, kind, title, source, loaded_at FROM templates
            ORDER BY template_id, version
            """
        )
        return [dict(r) for r in rows]

    async def get_audit(self, audit_id: str, *, for_update: bool = False) -> Audit | None:
        row = await self._conn.fetchrow(
            f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE audit_id = $1" + (" FOR UPDATE" if for_update else ""),
            audit_id,
        )
        return _audit(row) if row else None

    async def get_audit_row(self, audit_id: str) -> dict[str, Any]:
        row = await self._conn.fetchrow(f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE audit_id = $1", audit_id)
        return dict(row) if row else {}

    async def insert_audit(self, audit: Audit, *, origin: str, correlation_id: UUID | None = None) -> bool:
        """Create a pending audit. Returns False if the audit id was already known (nothing changed)."""
        result = await self._conn.execute(
            """
            INSERT INTO audits (audit_id, case_id, service, team_id, auditor_id, lead_auditor_id, team_manager_id,
                                month, due_on, template_id, template_version, allocated_at, origin, correlation_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (audit_id) DO NOTHING
            """,
            *_allocation(audit),
            audit.template_id,
            audit.template_version,
            audit.allocated_at,
            origin,
            correlation_id,
        )
        return result.endswith(" 1")

    async def update_pending_allocation(self, audit: Audit) -> None:
        """A repeated allocation of a still-pending audit (e.g. a redraw) refreshes who and when."""
        await self._conn.execute(
            """
            UPDATE audits SET case_id = $2, service = $3, team_id = $4, auditor_id = $5, lead_auditor_id = $6,
                   team_manager_id = $7, month = $8, due_on = $9, updated_at = now()
            WHERE audit_id = $1 AND status = 'pending'
            """,
            *_allocation(audit),
        )

    async def correlation_of(self, audit_id: str) -> UUID | None:
        return await self._conn.fetchval("SELECT correlation_id FROM audits WHERE audit_id = $1", audit_id)

    async def reallocate(
        self,
        audit_id: str,
        *,
        previous_auditor_id: str,
        auditor_id: str,
        lead_auditor_id: str,
        due_on: date,
        occurred_at: datetime,
    ) -> None:
        await self._conn.execute(
            """
            UPDATE audits SET auditor_id = $2, lead_auditor_id = $3, due_on = $4, updated_at = now()
            WHERE audit_id = $1
            """,
            audit_id,
            auditor_id,
            lead_auditor_id,
            due_on,
        )
        await self._conn.execute(
            """
            INSERT INTO reallocations (audit_id, previous_auditor_id, auditor_id, due_on, occurred_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            audit_id,
            previous_auditor_id,
            auditor_id,
            due_on,
            occurred_at,
        )

    async def list_audits(
        self,
        *,
        auditor_id: str | None = None,
        visible_to: str | None = None,
        status: str | None = None,
        overdue: bool | None = None,
        month: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_AUDIT_COLUMNS} FROM audits
            WHERE ($1::text IS NULL OR auditor_id = $1)
              AND ($2::text IS NULL OR auditor_id = $2 OR lead_auditor_id = $2)
              AND ($3::text IS NULL OR status = $3)
              AND ($4::boolean IS NULL OR (overdue_flagged_at IS NOT NULL) = $4)
              AND ($5::text IS NULL OR month = $5)
            ORDER BY due_on, audit_id
            LIMIT $6
            """,
            auditor_id,
            visible_to,
            status,
            overdue,
            month,
            limit,
        )
        return [dict(r) for r in rows]

    async def save_completion(
        self,
        audit: Audit,
        template_version: int,
        submission: ValidSubmission,
        *,
        submitted_by: str,
        submitted_role: str,
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO completions (audit_id, template_id, template_version, auditor_id, submitted_by, submitted_role,
                                     completed_at, overall_grade, social_worker_participated, parents_spoken_to,
                                     child_spoken_to, safeguarding_concern, summary)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            """,
            audit.audit_id,
            audit.template_id,
            template_version,
            audit.auditor_id,
            submitted_by,
            submitted_role,
            submission.completed_at,
            submission.overall_grade.value,
            submission.social_worker_participated,
            submission.parents_spoken_to,
            submission.child_spoken_to,
            submission.safeguarding_concern,
            submission.summary,
        )
        await self._conn.executemany(
            "INSERT INTO completion_domains (audit_id, position, domain, grade, evidence) VALUES ($1, $2, $3, $4, $5)",
            [(audit.audit_id, i, d.domain, d.grade.value, d.evidence) for i, d in enumerate(submission.domains)],
        )
        await self._conn.executemany(
            "INSERT INTO completion_themes (audit_id, domain, theme, severity) VALUES ($1, $2, $3, $4)",
            [
                (audit.audit_id, d.domain, theme.value, severity.value)
                for d in submission.domains
                for theme, severity in dict(d.themes).items()
            ],
        )
        await self._conn.executemany(
            "INSERT INTO completion_answers (audit_id, position, question_id, theme, answer)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(audit.audit_id, i, q, t.value, a.value) for i, (q, t, a) in enumerate(submission.answers)],
        )
        await self._conn.execute(
            "UPDATE audits SET status = 'completed', template_version = $2, updated_at = now() WHERE audit_id = $1",
            audit.audit_id,
            template_version,
        )

    async def get_completion(self, audit_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            """
            SELECT template_id, template_version, auditor_id, submitted_by, submitted_role, completed_at, overall_grade,
                   social_worker_participated, parents_spoken_to, child_spoken_to, safeguarding_concern, summary
            FROM completions WHERE audit_id = $1
            """,
            audit_id,
        )
        if row is None:
            return None
        domains = await self._conn.fetch(
            "SELECT domain, grade, evidence FROM completion_domains WHERE audit_id = $1 ORDER BY position", audit_id
        )
        themes = await self._conn.fetch(
            "SELECT domain, theme, severity FROM completion_themes WHERE audit_id = $1 ORDER BY domain, theme", audit_id
        )
        answers = await self._conn.fetch(
            "SELECT question_id, theme, answer FROM completion_answers WHERE audit_id = $1 ORDER BY position", audit_id
        )
        result = dict(row)
        result["domains"] = [
            {
                **dict(d),
                "themes": [
                    {"theme": t["theme"], "severity": t["severity"]} for t in themes if t["domain"] == d["domain"]
                ],
            }
            for d in domains
        ]
        result["answers"] = [dict(a) for a in answers]
        return result

    async def completed_grades(self, audit_id: str) -> dict[str, Grade]:
        rows = await self._conn.fetch("SELECT domain, grade FROM completion_domains WHERE audit_id = $1", audit_id)
        return {r["domain"]: Grade(r["grade"]) for r in rows}

    async def insert_concern(self, concern: PracticeConcernRaised) -> None:
        await self._conn.execute(
            """
            INSERT INTO practice_concerns (concern_id, audit_id, case_id, service, team_id, team_manager_id, reason,
                                           domains, raised_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            concern.concern_id,
            concern.audit_id,
            concern.case_id,
            concern.service.value,
            concern.team_id,
            concern.team_manager_id,
            concern.reason.value,
            list(concern.domains),
            concern.raised_at,
        )

    async def get_concern(self, concern_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CONCERN_COLUMNS} FROM practice_concerns WHERE concern_id = $1"
            + (" FOR UPDATE" if for_update else ""),
            concern_id,
        )
        return dict(row) if row else None

    async def list_concerns(
        self, *, manager_id: str | None = None, open_only: bool = False, service: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_CONCERN_COLUMNS} FROM practice_concerns
            WHERE ($1::text IS NULL OR team_manager_id = $1)
              AND (NOT $2 OR acknowledged_at IS NULL)
              AND ($3::text IS NULL OR service = $3)
            ORDER BY raised_at, concern_id
            """,
            manager_id,
            open_only,
            service,
        )
        return [dict(r) for r in rows]

    async def acknowledge_concern(self, concern_id: str, *, by: str, at: datetime, response: str) -> None:
        await self._conn.execute(
            """
            UPDATE practice_concerns SET acknowledged_at = $2, acknowledged_by = $3, response = $4
            WHERE concern_id = $1
            """,
            concern_id,
            at,
            by,
            response,
        )

    async def flag_overdue(self, as_of: date, *, limit: int = 1000) -> list[Audit]:
        """Mark pending audits due before `as_of` and not yet flagged; each is returned exactly once ever.

        Concurrent sweeps cannot both flag one audit: the row is locked by the first, and the second
        re-checks `overdue_flagged_at IS NULL` after the lock is released.
        """
        rows = await self._conn.fetch(
            f"""
            UPDATE audits SET overdue_flagged_at = (due_on + 1)::timestamp AT TIME ZONE 'UTC', updated_at = now()
            WHERE audit_id IN (
                SELECT audit_id FROM audits
                WHERE status = 'pending' AND overdue_flagged_at IS NULL AND due_on < $1
                ORDER BY due_on, audit_id
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            AND status = 'pending' AND overdue_flagged_at IS NULL
            RETURNING {_AUDIT_COLUMNS}
            """,
            as_of,
            limit,
        )
        return sorted((_audit(r) for r in rows), key=lambda a: (a.due_on, a.audit_id))

    async def advance_clock(self, occurred_at: datetime) -> None:
        await self._conn.execute(
            """
            INSERT INTO event_clock (id, high_water) VALUES (true, $1)
            ON CONFLICT (id) DO UPDATE SET high_water = GREATEST(event_clock.high_water, EXCLUDED.high_water)
            """,
            occurred_at,
        )

    async def clock_high_water(self) -> datetime | None:
        return await self._conn.fetchval("SELECT high_water FROM event_clock")

    async def insert_moderation_sample(self, audit_id: str, *, sample_point: float, share: float, seed: str) -> None:
        await self._conn.execute(
            "INSERT INTO moderations (audit_id, sample_point, share, seed) VALUES ($1, $2, $3, $4)",
            audit_id,
            sample_point,
            share,
            seed,
        )

    async def get_moderation(self, audit_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT audit_id, moderator_id, moderated_at FROM moderations WHERE audit_id = $1"
            + (" FOR UPDATE" if for_update else ""),
            audit_id,
        )
        return dict(row) if row else None

    async def save_moderation(
        self, audit_id: str, *, moderator_id: str, grades: dict[str, Grade], at: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE moderations SET moderator_id = $2, moderated_at = $3 WHERE audit_id = $1",
            audit_id,
            moderator_id,
            at,
        )
        await self._conn.executemany(
            "INSERT INTO moderation_grades (audit_id, domain, grade) VALUES ($1, $2, $3)",
            [(audit_id, domain, grade.value) for domain, grade in grades.items()],
        )

    async def moderation_queue(self, *, exclude_auditor: str | None = None) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """
            SELECT m.audit_id, a.service, a.team_id, a.month, c.template_id, c.template_version, m.sampled_at,
                   array_agg(d.domain ORDER BY d.position) AS domains
            FROM moderations m
            JOIN audits a USING (audit_id)
            JOIN completions c USING (audit_id)
            JOIN completion_domains d USING (audit_id)
            WHERE m.moderated_at IS NULL AND ($1::text IS NULL OR c.auditor_id <> $1)
            GROUP BY m.audit_id, a.service, a.team_id, a.month, c.template_id, c.template_version, m.sampled_at
            ORDER BY m.sampled_at, m.audit_id
            """,
            exclude_auditor,
        )
        return [dict(r) for r in rows]

    async def grade_pairs(self, *, month: str | None = None, service: str | None = None) -> Sequence[GradePair]:
        rows = await self._conn.fetch(
            """
            SELECT c.audit_id, c.auditor_id, d.domain, d.grade AS auditor_grade, g.grade AS moderator_grade
            FROM moderation_grades g
            JOIN completion_domains d ON d.audit_id = g.audit_id AND d.domain = g.domain
            JOIN completions c ON c.audit_id = g.audit_id
            JOIN audits a ON a.audit_id = g.audit_id
            WHERE ($1::text IS NULL OR a.month = $1) AND ($2::text IS NULL OR a.service = $2)
            ORDER BY c.audit_id, d.position
            """,
            month,
            service,
        )
        return [
            GradePair(
                r["audit_id"], r["auditor_id"], r["domain"], Grade(r["auditor_grade"]), Grade(r["moderator_grade"])
            )
            for r in rows
        ]
