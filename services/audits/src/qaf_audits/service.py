"""Use cases of the audits service: each runs in one transaction and enqueues what it emits.

The HTTP router and the CLI call these; the rules themselves are in `domain/`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import structlog

from qaf_shared.envelope import new_envelope
from qaf_shared.kafka import enqueue
from qaf_shared.vocabulary import Service

from qaf_audits.adapters import repository
from qaf_audits.adapters.template_files import packaged_templates
from qaf_audits.domain import events
from qaf_audits.domain.audits import Audit, AuditStatus, Submission, validate_submission
from qaf_audits.domain.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from qaf_audits.domain.moderation import is_sampled, sample_point, validate_regrading
from qaf_audits.domain.templates import Template, TemplateInvalid, TemplateKind, parse_template
from qaf_audits.settings import AuditsSettings

log = structlog.get_logger(__name__)

SOURCE = "audits"
SWEEP_BATCH = 500


# --- Templates ---------------------------------------------------------------------------------


async def ensure_packaged_templates(conn: asyncpg.Connection, templates: list[Template] | None = None) -> int:
    """Store any shipped template version not yet in the database. Returns how many were added.

    A stored version whose shipped file has since changed is refused: released versions never change.
    """
    added = 0
    for template in templates if templates is not None else packaged_templates():
        digest = await repository.template_digest(conn, template.id, template.version)
        if digest is None:
            added += await repository.insert_template(conn, template, source="package")
        elif digest != template.digest:
            raise RuntimeError(
                f"template {template.id} v{template.version} was changed after its release: "
                "ship the change as a new version instead"
            )
    return added


async def load_template(pool: asyncpg.Pool, data: Any, *, loaded_by: str) -> tuple[Template, bool]:
    """Store a themed template sent over the API as its next version. Returns (template, created).

    Sending the same definition as the latest version again creates nothing (idempotent).
    """
    draft = parse_template(data, version=1)
    if draft.kind is not TemplateKind.THEMED:
        raise TemplateInvalid([FieldError("kind", "only themed templates are loaded over the API; "
                                          "the light-touch template ships with the service")])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"template:{draft.id}")
        latest = await repository.get_template(conn, draft.id)
        if latest is not None and latest.kind is not TemplateKind.THEMED:
            raise DomainError(f"template id {draft.id!r} belongs to a {latest.kind.value} template")
        if latest is not None and latest.digest == draft.digest:
            return latest, False
        template = parse_template(data, version=(latest.version + 1) if latest else 1)
        await repository.insert_template(conn, template, source="api", loaded_by=loaded_by)
    log.info("template.loaded", template_id=template.id, version=template.version, by=loaded_by)
    return template, True


async def template_for(conn: asyncpg.Connection, audit: Audit) -> Template:
    """The template version the audit uses: pinned at allocation, or the latest if none was loaded then."""
    template = await repository.get_template(conn, audit.template_id, audit.template_version)
    if template is None and audit.template_version is None:
        await ensure_packaged_templates(conn)
        template = await repository.get_template(conn, audit.template_id)
    if template is None:
        raise DomainError(f"template {audit.template_id!r} is not loaded: a qa-admin must load it first")
    return template


# --- Submission --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionResult:
    audit_id: str
    template_id: str
    template_version: int
    overall_grade: str
    concern_id: str | None
    moderation_sampled: bool


async def submit_audit(
    pool: asyncpg.Pool,
    audit_id: str,
    submission: Submission,
    *,
    principal: str,
    role: str,
    settings: AuditsSettings,
    now: datetime | None = None,
) -> SubmissionResult:
    async with pool.acquire() as conn, conn.transaction():
        audit = await repository.get_audit(conn, audit_id, for_update=True)
        if audit is None:
            raise NotFound(f"no audit {audit_id!r}")
        if not audit.may_submit(principal, role):
            raise Forbidden(f"audit {audit_id} is allocated to another auditor")
        if audit.status is AuditStatus.COMPLETED:
            raise DomainError(f"audit {audit_id} has already been completed")
        template = await template_for(conn, audit)
        valid = validate_submission(template, audit, submission, now=now or datetime.now(UTC))
        await repository.save_completion(
            conn, audit, template.version, valid, submitted_by=principal, submitted_role=role
        )
        correlation_id = await repository.correlation_of(conn, audit_id)
        completed = events.audit_completed(audit, template.version, valid)
        await enqueue(
            conn,
            new_envelope(completed, source=SOURCE, occurred_at=valid.completed_at, correlation_id=correlation_id),
        )
        concern = events.practice_concern(audit, valid)
        if concern is not None:
            await repository.insert_concern(conn, concern)
            await enqueue(
                conn,
                new_envelope(concern, source=SOURCE, occurred_at=valid.completed_at, correlation_id=correlation_id),
            )
        sampled = is_sampled(audit_id, share=settings.moderation_share, seed=settings.moderation_seed)
        if sampled:
            await repository.insert_moderation_sample(
                conn,
                audit_id,
                sample_point=sample_point(audit_id, settings.moderation_seed),
                share=settings.moderation_share,
                seed=settings.moderation_seed,
            )
    log.info(
        "audit.completed",
        audit_id=audit_id,
        template_id=template.id,
        template_version=template.version,
        concern=concern is not None,
        moderation=sampled,
    )
    return SubmissionResult(
        audit_id=audit_id,
        template_id=template.id,
        template_version=template.version,
        overall_grade=valid.overall_grade.value,
        concern_id=concern.concern_id if concern else None,
        moderation_sampled=sampled,
    )


# --- Practice concerns -------------------------------------------------------------------------


async def acknowledge_concern(
    pool: asyncpg.Pool, concern_id: str, *, principal: str, role: str, response: str, at: datetime | None = None
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        concern = await repository.get_concern(conn, concern_id, for_update=True)
        if concern is None:
            raise NotFound(f"no practice concern {concern_id!r}")
        if role != "qa-admin" and principal != concern["team_manager_id"]:
            raise Forbidden(f"practice concern {concern_id} is addressed to another manager")
        if concern["acknowledged_at"] is not None:
            raise DomainError(f"practice concern {concern_id} was already acknowledged")
        await repository.acknowledge_concern(
            conn, concern_id, by=principal, at=at or datetime.now(UTC), response=response
        )
        acknowledged = await repository.get_concern(conn, concern_id)
    log.info("practice_concern.acknowledged", concern_id=concern_id, by=principal)
    assert acknowledged is not None
    return acknowledged


# --- Overdue -----------------------------------------------------------------------------------


async def sweep_overdue(pool: asyncpg.Pool, as_of: date) -> list[str]:
    """Flag every pending audit due before `as_of` that was never flagged, and emit `audit-overdue` once."""
    flagged: list[str] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            batch = await repository.flag_overdue(conn, as_of, limit=SWEEP_BATCH)
            for audit in batch:
                correlation_id = await repository.correlation_of(conn, audit.audit_id)
                await enqueue(
                    conn,
                    new_envelope(
                        events.audit_overdue(audit),
                        source=SOURCE,
                        occurred_at=events.overdue_occurred_at(audit),
                        correlation_id=correlation_id,
                    ),
                )
        flagged.extend(a.audit_id for a in batch)
        if len(batch) < SWEEP_BATCH:
            break
    if flagged:
        log.info("audits.overdue_flagged", as_of=as_of.isoformat(), count=len(flagged))
    return flagged


# --- Themed audits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemedCase:
    case_id: str
    service: Service
    team_id: str
    auditor_id: str
    team_manager_id: str | None = None
    audit_id: str | None = None


def themed_audit_id(template_id: str, version: int, case_id: str) -> str:
    return "TA-" + hashlib.sha256(f"{template_id}:{version}:{case_id}".encode()).hexdigest()[:20]


async def allocate_themed(
    pool: asyncpg.Pool,
    *,
    template_id: str,
    cases: list[ThemedCase],
    lead_auditor_id: str,
    due_on: date,
    allocated_at: datetime,
    month: str | None,
) -> list[dict[str, Any]]:
    """Allocate a themed audit by case list (not a random draw). Re-sending a case changes nothing."""
    errors = [
        FieldError(f"cases[{i}].auditor_id", "an auditor never audits a case they manage")
        for i, case in enumerate(cases)
        if case.team_manager_id is not None and case.auditor_id == case.team_manager_id
    ]
    if due_on < allocated_at.date():
        errors.append(FieldError("due_on", "is before the audits are allocated"))
    if errors:
        raise Invalid(errors)
    correlation_id = uuid4()
    results: list[dict[str, Any]] = []
    async with pool.acquire() as conn, conn.transaction():
        template = await repository.get_template(conn, template_id)
        if template is None:
            raise NotFound(f"no template {template_id!r}")
        if template.kind is not TemplateKind.THEMED:
            raise DomainError(f"{template_id} is not a themed template: light-touch audits come from allocation")
        for case in cases:
            audit_id = case.audit_id or themed_audit_id(template.id, template.version, case.case_id)
            audit = Audit(
                audit_id=audit_id,
                case_id=case.case_id,
                service=case.service,
                team_id=case.team_id,
                auditor_id=case.auditor_id,
                lead_auditor_id=lead_auditor_id,
                team_manager_id=case.team_manager_id,
                template_id=template.id,
                template_version=template.version,
                due_on=due_on,
                allocated_at=allocated_at,
                month=month,
            )
            created = await repository.insert_audit(conn, audit, origin="themed", correlation_id=correlation_id)
            results.append({"audit_id": audit_id, "case_id": case.case_id, "created": created})
    log.info("themed.allocated", template_id=template_id, cases=len(cases),
             created=sum(r["created"] for r in results))
    return results


# --- Moderation --------------------------------------------------------------------------------


async def moderate(
    pool: asyncpg.Pool,
    audit_id: str,
    regrading: list[tuple[str, str]],
    *,
    moderator_id: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        moderation = await repository.get_moderation(conn, audit_id, for_update=True)
        if moderation is None:
            if await repository.get_audit(conn, audit_id) is None:
                raise NotFound(f"no audit {audit_id!r}")
            raise DomainError(f"audit {audit_id} was not sampled for moderation")
        if moderation["moderated_at"] is not None:
            raise DomainError(f"audit {audit_id} has already been moderated")
        completion = await repository.get_completion(conn, audit_id)
        assert completion is not None
        if moderator_id in (completion["auditor_id"], completion["submitted_by"]):
            raise Forbidden("a moderation must be independent: the auditor cannot moderate their own audit")
        original = await repository.completed_grades(conn, audit_id)
        grades = validate_regrading(original, regrading)
        await repository.save_moderation(conn, audit_id, moderator_id=moderator_id, grades=grades,
                                         at=at or datetime.now(UTC))
    agreed = sum(original[d] == g for d, g in grades.items())
    return {"audit_id": audit_id, "domains": len(grades), "agreed": agreed}
