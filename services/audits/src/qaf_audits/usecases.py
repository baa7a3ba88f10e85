"""Use cases of the audits service: each runs in one unit of work and emits what the domain decided.

The HTTP router, the CLI, the background sweeper and the Kafka handlers call these; the rules
themselves are in `domain/`, the queries in `adapters/repository.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import structlog

from qaf_shared.clock import Clock
from qaf_shared.contracts.allocation import AuditAllocated, AuditReallocated
from qaf_shared.contracts.audits import PracticeConcernRaised
from qaf_shared.envelope import new_envelope
from qaf_shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from qaf_shared.unit_of_work import UnitOfWork
from qaf_shared.vocabulary import Service

from qaf_audits.adapters.repository import Repository
from qaf_audits.adapters.template_files import packaged_templates
from qaf_audits.domain import events
from qaf_audits.domain.audits import Audit, AuditStatus, Submission, ValidSubmission, validate_submission
from qaf_audits.domain.moderation import AgreementReport, agreement, is_sampled, sample_point, validate_regrading
from qaf_audits.domain.templates import Template, TemplateInvalid, TemplateKind, parse_template
from qaf_audits.settings import AuditsSettings

log = structlog.get_logger(__name__)

SOURCE = "audits"
SWEEP_BATCH = 500
ADMIN = "qa-admin"

Audits = UnitOfWork[Repository]


@dataclass(frozen=True)
class Context:
    """What use cases are given besides a unit of work: the settings, and the clock requests are stamped by."""

    settings: AuditsSettings
    clock: Clock


async def _now(clock: Clock) -> datetime:
    moment = await clock.now()
    assert moment is not None, "requests are served on a clock that knows the time"
    return moment


# --- Templates ---------------------------------------------------------------------------------


async def _store_packaged(repository: Repository, templates: list[Template] | None = None) -> int:
    """Store any shipped template version not yet in the database. Returns how many were added.

    A stored version whose shipped file has since changed is refused: released versions never change.
    """
    added = 0
    for template in templates if templates is not None else packaged_templates():
        digest = await repository.template_digest(template.id, template.version)
        if digest is None:
            added += await repository.insert_template(template, source="package")
        elif digest != template.digest:
            raise RuntimeError(
                f"template {template.id} v{template.version} was changed after its release: "
                "ship the change as a new version instead"
            )
    return added


async def ensure_packaged_templates(uow: Audits, templates: list[Template] | None = None) -> int:
    """Store the shipped template versions not yet in the database (at start, and before CLI commands)."""
    async with uow:
        added = await _store_packaged(uow.repository, templates)
        await uow.commit()
    return added


async def load_template(uow: Audits, data: Any, *, loaded_by: str) -> tuple[Template, bool]:
    """Store a themed template sent over the API as its next version. Returns (template, created).

    Sending the same definition as the latest version again creates nothing (idempotent).
    """
    draft = parse_template(data, version=1)
    if draft.kind is not TemplateKind.THEMED:
        raise TemplateInvalid([FieldError("kind", "only themed templates are loaded over the API; "
                                          "the light-touch template ships with the service")])
    async with uow:
        await uow.repository.lock_template(draft.id)
        latest = await uow.repository.get_template(draft.id)
        if latest is not None and latest.kind is not TemplateKind.THEMED:
            raise Conflict(f"template id {draft.id!r} belongs to a {latest.kind.value} template")
        if latest is not None and latest.digest == draft.digest:
            return latest, False
        template = parse_template(data, version=(latest.version + 1) if latest else 1)
        await uow.repository.insert_template(template, source="api", loaded_by=loaded_by)
        await uow.commit()
    log.info("template.loaded", template_id=template.id, version=template.version, by=loaded_by)
    return template, True


async def list_templates(uow: Audits) -> list[dict[str, Any]]:
    async with uow:
        return await uow.repository.list_templates()


async def template(uow: Audits, template_id: str, version: int | None = None) -> Template:
    """A template version (default: the latest)."""
    async with uow:
        found = await uow.repository.get_template(template_id, version)
    if found is None:
        raise NotFound(f"no template {template_id!r}" + (f" version {version}" if version else ""))
    return found


async def _template_for(repository: Repository, audit: Audit) -> Template:
    """The template version the audit uses: pinned at allocation, or the latest if none was loaded then."""
    found = await repository.get_template(audit.template_id, audit.template_version)
    if found is None and audit.template_version is None:
        await _store_packaged(repository)
        found = await repository.get_template(audit.template_id)
    if found is None:
        raise Conflict(f"template {audit.template_id!r} is not loaded: a qa-admin must load it first")
    return found


# --- Allocation (from Kafka) -------------------------------------------------------------------


async def record_allocation(
    uow: Audits, allocated: AuditAllocated, *, occurred_at: datetime, correlation_id: UUID | None
) -> None:
    """A pending audit, pinned to the latest version of its template (if that template is loaded yet)."""
    async with uow:
        repository = uow.repository
        await repository.advance_clock(occurred_at)
        version = await repository.latest_version(allocated.template_id)
        if version is None:
            await _store_packaged(repository)
            version = await repository.latest_version(allocated.template_id)
        audit = Audit(
            audit_id=allocated.audit_id,
            case_id=allocated.case_id,
            service=allocated.service,
            team_id=allocated.team_id,
            auditor_id=allocated.auditor_id,
            lead_auditor_id=allocated.lead_auditor_id,
            team_manager_id=allocated.team_manager_id,
            month=allocated.month,
            due_on=allocated.due_on,
            template_id=allocated.template_id,
            template_version=version,
            allocated_at=occurred_at,
        )
        if not await repository.insert_audit(audit, origin="allocation", correlation_id=correlation_id):
            existing = await repository.get_audit(allocated.audit_id, for_update=True)
            if existing is not None and existing.status is AuditStatus.PENDING:
                await repository.update_pending_allocation(audit)
                log.info("audit.allocation_refreshed", audit_id=allocated.audit_id)
            else:
                log.info("audit.allocation_ignored", audit_id=allocated.audit_id, reason="already completed")
        await uow.commit()


async def record_reallocation(uow: Audits, moved: AuditReallocated, *, occurred_at: datetime) -> None:
    """Another auditor (and perhaps due date) for a pending audit; a completed audit stays as it is."""
    async with uow:
        repository = uow.repository
        await repository.advance_clock(occurred_at)
        audit = await repository.get_audit(moved.audit_id, for_update=True)
        if audit is None:
            raise NotFound(f"audit {moved.audit_id} was never allocated, so it cannot be reallocated")
        if audit.status is AuditStatus.COMPLETED:
            log.info("audit.reallocation_ignored", audit_id=moved.audit_id, reason="already completed")
        else:
            await repository.reallocate(
                moved.audit_id,
                previous_auditor_id=audit.auditor_id,
                auditor_id=moved.auditor_id,
                lead_auditor_id=moved.lead_auditor_id,
                due_on=moved.due_on,
                occurred_at=occurred_at,
            )
        await uow.commit()


async def event_time(uow: Audits) -> datetime | None:
    """The latest `occurred_at` consumed: what the event clock reads."""
    async with uow:
        return await uow.repository.clock_high_water()


# --- Audits ------------------------------------------------------------------------------------


async def list_audits(
    uow: Audits,
    *,
    principal: str,
    role: str,
    status: str | None = None,
    overdue: bool | None = None,
    month: str | None = None,
    auditor_id: str | None = None,
) -> list[dict[str, Any]]:
    """An auditor sees their own audits, a lead auditor theirs and those they lead, qa-admin all."""
    visible_to = None if role == ADMIN else principal
    if role == "auditor":
        auditor_id = principal
    async with uow:
        return await uow.repository.list_audits(
            auditor_id=auditor_id, visible_to=visible_to, status=status, overdue=overdue, month=month
        )


@dataclass(frozen=True)
class AuditDetail:
    audit: dict[str, Any]
    template: Template
    completion: dict[str, Any] | None


async def audit_detail(uow: Audits, audit_id: str, *, principal: str, role: str) -> AuditDetail:
    """One audit with its template and, once completed, what was submitted: for those who may submit it."""
    async with uow:
        audit = await uow.repository.get_audit(audit_id)
        if audit is None:
            raise NotFound(f"no audit {audit_id!r}")
        if not audit.may_submit(principal, role):
            raise Forbidden(f"audit {audit_id} is allocated to another auditor")
        row = await uow.repository.get_audit_row(audit_id)
        used = await _template_for(uow.repository, audit)
        completion = await uow.repository.get_completion(audit_id)
        await uow.commit()  # the packaged templates may just have been stored
    return AuditDetail(audit=row, template=used, completion=completion)


@dataclass(frozen=True)
class SubmittedAudit:
    audit_id: str
    template: Template  # the version it was graded on
    submission: ValidSubmission
    concern: PracticeConcernRaised | None
    moderation_sampled: bool


async def submit_audit(
    uow: Audits, audit_id: str, submission: Submission, *, principal: str, role: str, ctx: Context
) -> SubmittedAudit:
    settings = ctx.settings
    async with uow:
        repository = uow.repository
        audit = await repository.get_audit(audit_id, for_update=True)
        if audit is None:
            raise NotFound(f"no audit {audit_id!r}")
        if not audit.may_submit(principal, role):
            raise Forbidden(f"audit {audit_id} is allocated to another auditor")
        if audit.status is AuditStatus.COMPLETED:
            raise Conflict(f"audit {audit_id} has already been completed")
        used = await _template_for(repository, audit)
        valid = validate_submission(used, audit, submission, now=await _now(ctx.clock))
        await repository.save_completion(audit, used.version, valid, submitted_by=principal, submitted_role=role)
        correlation_id = await repository.correlation_of(audit_id)
        concern = events.practice_concern(audit, valid)
        raised = [events.audit_completed(audit, used.version, valid), *([concern] if concern else [])]
        uow.emit(*(new_envelope(e, source=SOURCE, occurred_at=valid.completed_at, correlation_id=correlation_id)
                   for e in raised))
        if concern is not None:
            await repository.insert_concern(concern)
        sampled = is_sampled(audit_id, share=settings.moderation_share, seed=settings.moderation_seed)
        if sampled:
            await repository.insert_moderation_sample(
                audit_id,
                sample_point=sample_point(audit_id, settings.moderation_seed),
                share=settings.moderation_share,
                seed=settings.moderation_seed,
            )
        await uow.commit()
    log.info(
        "audit.completed",
        audit_id=audit_id,
        template_id=used.id,
        template_version=used.version,
        concern=concern is not None,
        moderation=sampled,
    )
    return SubmittedAudit(
        audit_id=audit_id, template=used, submission=valid, concern=concern, moderation_sampled=sampled
    )


# --- Practice concerns -------------------------------------------------------------------------


async def list_concerns(
    uow: Audits, *, principal: str, role: str, open_only: bool = False, service: Service | None = None
) -> list[dict[str, Any]]:
    """The concerns addressed to the caller (qa-admin: all)."""
    manager = None if role == ADMIN else principal
    async with uow:
        return await uow.repository.list_concerns(
            manager_id=manager, open_only=open_only, service=service.value if service else None
        )


async def acknowledge_concern(
    uow: Audits, concern_id: str, *, principal: str, role: str, response: str, ctx: Context
) -> dict[str, Any]:
    async with uow:
        repository = uow.repository
        concern = await repository.get_concern(concern_id, for_update=True)
        if concern is None:
            raise NotFound(f"no practice concern {concern_id!r}")
        if role != ADMIN and principal != concern["team_manager_id"]:
            raise Forbidden(f"practice concern {concern_id} is addressed to another manager")
        if concern["acknowledged_at"] is not None:
            raise Conflict(f"practice concern {concern_id} was already acknowledged")
        await repository.acknowledge_concern(concern_id, by=principal, at=await _now(ctx.clock), response=response)
        acknowledged = await repository.get_concern(concern_id)
        await uow.commit()
    log.info("practice_concern.acknowledged", concern_id=concern_id, by=principal)
    assert acknowledged is not None
    return acknowledged


# --- Overdue -----------------------------------------------------------------------------------


async def sweep_overdue(uow: Audits, as_of: date) -> list[str]:
    """Flag every pending audit due before `as_of` that was never flagged, and emit `audit-overdue` once.

    Each batch is its own transaction, so a long sweep holds no lock for long.
    """
    flagged: list[str] = []
    while True:
        async with uow:
            batch = await uow.repository.flag_overdue(as_of, limit=SWEEP_BATCH)
            for audit in batch:
                uow.emit(new_envelope(
                    events.audit_overdue(audit),
                    source=SOURCE,
                    occurred_at=events.overdue_occurred_at(audit),
                    correlation_id=await uow.repository.correlation_of(audit.audit_id),
                ))
            await uow.commit()
        flagged.extend(a.audit_id for a in batch)
        if len(batch) < SWEEP_BATCH:
            break
    if flagged:
        log.info("audits.overdue_flagged", as_of=as_of.isoformat(), count=len(flagged))
    return flagged


async def sweep_overdue_today(uow: Audits, clock: Clock) -> list[str]:
    """The background sweep: as of the clock's today, or not at all while it knows no time."""
    as_of = await clock.today()
    return await sweep_overdue(uow, as_of) if as_of is not None else []


# --- Themed audits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemedCase:
    case_id: str
    service: Service
    team_id: str
    auditor_id: str
    team_manager_id: str | None = None
    audit_id: str | None = None


@dataclass(frozen=True)
class ThemedAudit:
    audit_id: str
    case_id: str
    created: bool


def themed_audit_id(template_id: str, version: int, case_id: str) -> str:
    return "TA-" + hashlib.sha256(f"{template_id}:{version}:{case_id}".encode()).hexdigest()[:20]


async def allocate_themed(
    uow: Audits,
    *,
    template_id: str,
    cases: list[ThemedCase],
    lead_auditor_id: str,
    due_on: date,
    allocated_at: datetime | None,
    month: str | None,
    ctx: Context,
) -> list[ThemedAudit]:
    """Allocate a themed audit by case list (not a random draw). Re-sending a case changes nothing.

    `allocated_at` is the event time of the allocation; default now.
    """
    allocated_at = allocated_at or await _now(ctx.clock)
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
    results: list[ThemedAudit] = []
    async with uow:
        themed = await uow.repository.get_template(template_id)
        if themed is None:
            raise NotFound(f"no template {template_id!r}")
        if themed.kind is not TemplateKind.THEMED:
            raise Conflict(f"{template_id} is not a themed template: light-touch audits come from allocation")
        for case in cases:
            audit = Audit(
                audit_id=case.audit_id or themed_audit_id(themed.id, themed.version, case.case_id),
                case_id=case.case_id,
                service=case.service,
                team_id=case.team_id,
                auditor_id=case.auditor_id,
                lead_auditor_id=lead_auditor_id,
                team_manager_id=case.team_manager_id,
                template_id=themed.id,
                template_version=themed.version,
                due_on=due_on,
                allocated_at=allocated_at,
                month=month,
            )
            created = await uow.repository.insert_audit(audit, origin="themed", correlation_id=correlation_id)
            results.append(ThemedAudit(audit_id=audit.audit_id, case_id=case.case_id, created=created))
        await uow.commit()
    log.info("themed.allocated", template_id=template_id, cases=len(cases),
             created=sum(r.created for r in results))
    return results


# --- Moderation --------------------------------------------------------------------------------


async def moderation_queue(uow: Audits, *, principal: str) -> list[dict[str, Any]]:
    """Sampled audits awaiting a second grading, the caller's own audits left out."""
    async with uow:
        return await uow.repository.moderation_queue(exclude_auditor=principal)


@dataclass(frozen=True)
class ModerationResult:
    audit_id: str
    domains: int
    agreed: int


async def moderate(
    uow: Audits, audit_id: str, regrading: list[tuple[str, str]], *, moderator_id: str, ctx: Context
) -> ModerationResult:
    async with uow:
        repository = uow.repository
        moderation = await repository.get_moderation(audit_id, for_update=True)
        if moderation is None:
            if await repository.get_audit(audit_id) is None:
                raise NotFound(f"no audit {audit_id!r}")
            raise Conflict(f"audit {audit_id} was not sampled for moderation")
        if moderation["moderated_at"] is not None:
            raise Conflict(f"audit {audit_id} has already been moderated")
        completion = await repository.get_completion(audit_id)
        assert completion is not None
        if moderator_id in (completion["auditor_id"], completion["submitted_by"]):
            raise Forbidden("a moderation must be independent: the auditor cannot moderate their own audit")
        original = await repository.completed_grades(audit_id)
        grades = validate_regrading(original, regrading)
        await repository.save_moderation(audit_id, moderator_id=moderator_id, grades=grades,
                                         at=await _now(ctx.clock))
        await uow.commit()
    agreed = sum(original[d] == g for d, g in grades.items())
    return ModerationResult(audit_id=audit_id, domains=len(grades), agreed=agreed)


async def moderation_agreement(uow: Audits, *, month: str | None = None,
                               service: Service | None = None) -> AgreementReport:
    """Agreement between auditors and moderators, per domain and per auditor."""
    async with uow:
        pairs = await uow.repository.grade_pairs(month=month, service=service.value if service else None)
    return agreement(pairs)
