"""The audits HTTP API. Every endpoint needs a bearer token; what each role may do is listed per route.

Errors: 404 unknown audit/template/concern, 403 right role but not this audit, 409 a state that
forbids the request (already completed, already acknowledged...), 422 invalid content with one
entry per faulty field: `{"detail": [{"loc": ["body", "domains", 2, "grade"], "field":
"domains[2].grade", "msg": "...", "type": "value_error"}]}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from qaf_shared.envelope import OpaqueId
from qaf_shared.http import Principal, require_role
from qaf_shared.vocabulary import Service

from qaf_audits import service
from qaf_audits.adapters import repository
from qaf_audits.domain.audits import AnswerEntry, DomainEntry, Submission, ThemeEntry
from qaf_audits.domain.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from qaf_audits.domain.moderation import agreement
from qaf_audits.domain.templates import template_as_dict
from qaf_audits.settings import AuditsSettings

router = APIRouter()

ADMIN = "qa-admin"
AUDITORS = ("auditor", "lead-auditor", ADMIN)


def _loc(field: str) -> list[str | int]:
    parts: list[str | int] = ["body"]
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        parts.append(int(index) if index else name)
    return parts


def unprocessable(errors: list[FieldError]) -> HTTPException:
    return HTTPException(
        422,
        detail=[{"loc": _loc(e.field), "field": e.field, "msg": e.message, "type": "value_error"} for e in errors],
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the domain's refusals into HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except DomainError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except Invalid as exc:
        raise unprocessable(exc.errors) from None


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def _settings(request: Request) -> AuditsSettings:
    return request.app.state.runtime.settings


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- Templates ---------------------------------------------------------------------------------


@router.get("/templates", tags=["templates"], summary="Every template version stored")
async def list_templates(
    request: Request, _: Principal = Depends(require_role(*AUDITORS, "reporting"))
) -> list[dict[str, Any]]:
    async with _pool(request).acquire() as conn:
        return jsonable_encoder(await repository.list_templates(conn))


@router.get("/templates/{template_id}", tags=["templates"], summary="A template version (default: the latest)")
async def get_template(
    request: Request,
    template_id: str,
    version: Annotated[int | None, Query(ge=1)] = None,
    _: Principal = Depends(require_role(*AUDITORS, "reporting")),
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        template = await repository.get_template(conn, template_id, version)
    if template is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no template {template_id!r}"
                            + (f" version {version}" if version else ""))
    return template_as_dict(template)


@router.post(
    "/templates",
    tags=["templates"],
    status_code=status.HTTP_201_CREATED,
    summary="Load a themed (event) audit template; it becomes that template's next version (qa-admin)",
)
async def post_template(
    request: Request,
    definition: Annotated[dict[str, Any], Body(description="The template as data, as in templates/*.yaml")],
    principal: Principal = Depends(require_role(ADMIN)),
) -> dict[str, Any]:
    with domain_errors():
        template, created = await service.load_template(_pool(request), definition, loaded_by=principal.principal)
    return {**template_as_dict(template), "created": created}


# --- Audits ------------------------------------------------------------------------------------


def _audit_view(row: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k != "overdue_flagged_at"}
    view["overdue"] = row["overdue_flagged_at"] is not None
    return jsonable_encoder(view)


@router.get("/audits", tags=["audits"], summary="Audits: an auditor sees their own, a lead auditor theirs and "
            "those they lead, qa-admin all")
async def list_audits(
    request: Request,
    status_: Annotated[str | None, Query(alias="status", pattern="^(pending|completed)$")] = None,
    overdue: bool | None = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    auditor_id: str | None = None,
    principal: Principal = Depends(require_role(*AUDITORS)),
) -> list[dict[str, Any]]:
    visible_to = None if principal.role == ADMIN else principal.principal
    if principal.role == "auditor":
        auditor_id = principal.principal
    async with _pool(request).acquire() as conn:
        rows = await repository.list_audits(
            conn, auditor_id=auditor_id, visible_to=visible_to, status=status_, overdue=overdue, month=month
        )
    return [_audit_view(r) for r in rows]


@router.get("/audits/{audit_id}", tags=["audits"], summary="One audit with its template and, once completed, "
            "what was submitted")
async def get_audit(
    request: Request, audit_id: str, principal: Principal = Depends(require_role(*AUDITORS))
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        audit = await repository.get_audit(conn, audit_id)
        if audit is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no audit {audit_id!r}")
        if not audit.may_submit(principal.principal, principal.role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"audit {audit_id} is allocated to another auditor")
        row = await repository.get_audit_row(conn, audit_id)
        with domain_errors():
            template = await service.template_for(conn, audit)
        completion = await repository.get_completion(conn, audit_id)
    return {
        **_audit_view(row),
        "template": template_as_dict(template),
        "completion": jsonable_encoder(completion),
    }


class ThemeIn(Strict):
    theme: str
    severity: str


class DomainIn(Strict):
    domain: str
    grade: str | None = None
    evidence: str = Field(default="", description="Free text: kept in this service only, never published.")
    themes: list[ThemeIn] = []


class AnswerIn(Strict):
    question_id: str
    answer: str = Field(description="yes, no or not-applicable")


class SubmissionIn(Strict):
    completed_at: AwareDatetime
    domains: list[DomainIn]
    answers: list[AnswerIn] = []
    social_worker_participated: bool = Field(description="The social worker took part in the audit conversation.")
    parents_spoken_to: bool
    child_spoken_to: bool
    safeguarding_concern: bool = Field(default=False, description="Raises a practice concern whatever the grades.")
    overall_grade: str | None = Field(default=None, description="Default: the median domain grade, rounded down.")
    summary: str = Field(default="", description="Free text: kept in this service only, never published.")

    def to_domain(self) -> Submission:
        return Submission(
            completed_at=self.completed_at,
            domains=[
                DomainEntry(d.domain, d.grade, d.evidence, [ThemeEntry(t.theme, t.severity) for t in d.themes])
                for d in self.domains
            ],
            answers=[AnswerEntry(a.question_id, a.answer) for a in self.answers],
            social_worker_participated=self.social_worker_participated,
            parents_spoken_to=self.parents_spoken_to,
            child_spoken_to=self.child_spoken_to,
            safeguarding_concern=self.safeguarding_concern,
            overall_grade=self.overall_grade,
            summary=self.summary,
        )


@router.post(
    "/audits/{audit_id}/submission",
    tags=["audits"],
    status_code=status.HTTP_201_CREATED,
    summary="Submit a completed audit (its auditor, the lead auditor of its service, or qa-admin); once only",
)
async def submit(
    request: Request, audit_id: str, body: SubmissionIn, principal: Principal = Depends(require_role(*AUDITORS))
) -> dict[str, Any]:
    with domain_errors():
        result = await service.submit_audit(
            _pool(request),
            audit_id,
            body.to_domain(),
            principal=principal.principal,
            role=principal.role,
            settings=_settings(request),
        )
    return result.__dict__


class ThemedCaseIn(Strict):
    case_id: OpaqueId
    service: Service
    team_id: OpaqueId
    auditor_id: OpaqueId
    team_manager_id: OpaqueId | None = None
    audit_id: OpaqueId | None = Field(default=None, description="Default: derived from template and case.")


class ThemedAllocationIn(Strict):
    template_id: OpaqueId
    lead_auditor_id: OpaqueId
    due_on: date
    allocated_at: AwareDatetime | None = Field(default=None, description="Event time of the allocation; default now.")
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    cases: list[ThemedCaseIn] = Field(min_length=1, max_length=1000)


@router.post(
    "/themed-audits",
    tags=["audits"],
    status_code=status.HTTP_201_CREATED,
    summary="Allocate a themed audit by case list (qa-admin); re-sending a case changes nothing",
)
async def allocate_themed(
    request: Request, body: ThemedAllocationIn, _: Principal = Depends(require_role(ADMIN))
) -> dict[str, Any]:
    with domain_errors():
        audits = await service.allocate_themed(
            _pool(request),
            template_id=body.template_id,
            cases=[service.ThemedCase(**c.model_dump()) for c in body.cases],
            lead_auditor_id=body.lead_auditor_id,
            due_on=body.due_on,
            allocated_at=body.allocated_at or datetime.now(UTC),
            month=body.month,
        )
    return {"template_id": body.template_id, "audits": audits}


# --- Practice concerns -------------------------------------------------------------------------


@router.get("/practice-concerns", tags=["practice concerns"], summary="Concerns addressed to the caller "
            "(qa-admin: all)")
async def list_concerns(
    request: Request,
    open_only: Annotated[bool, Query(alias="open")] = False,
    service_: Annotated[Service | None, Query(alias="service")] = None,
    principal: Principal = Depends(require_role(*AUDITORS)),
) -> list[dict[str, Any]]:
    manager = None if principal.role == ADMIN else principal.principal
    async with _pool(request).acquire() as conn:
        rows = await repository.list_concerns(
            conn, manager_id=manager, open_only=open_only, service=service_.value if service_ else None
        )
    return jsonable_encoder(rows)


class AcknowledgementIn(Strict):
    response: str = Field(default="", max_length=20_000, description="Free text: kept in this service only.")


@router.post(
    "/practice-concerns/{concern_id}/acknowledge",
    tags=["practice concerns"],
    summary="The manager it is addressed to (or qa-admin) acknowledges a practice concern; once only",
)
async def acknowledge(
    request: Request,
    concern_id: str,
    body: AcknowledgementIn | None = None,
    principal: Principal = Depends(require_role(*AUDITORS)),
) -> dict[str, Any]:
    with domain_errors():
        concern = await service.acknowledge_concern(
            _pool(request),
            concern_id,
            principal=principal.principal,
            role=principal.role,
            response=body.response if body else "",
        )
    return jsonable_encoder(concern)


# --- Overdue -----------------------------------------------------------------------------------


class SweepIn(Strict):
    as_of: date = Field(description="Flag audits due before this date (event time of the sweep).")


@router.post("/overdue/sweep", tags=["overdue"], summary="Flag overdue audits as of a date (qa-admin)")
async def sweep(request: Request, body: SweepIn, _: Principal = Depends(require_role(ADMIN))) -> dict[str, Any]:
    flagged = await service.sweep_overdue(_pool(request), body.as_of)
    return {"as_of": body.as_of.isoformat(), "flagged": flagged}


# --- Moderation --------------------------------------------------------------------------------


@router.get("/moderation/queue", tags=["moderation"], summary="Sampled audits awaiting a second grading "
            "(the caller's own audits left out; grades hidden so the moderation stays independent)")
async def moderation_queue(
    request: Request, principal: Principal = Depends(require_role(*AUDITORS))
) -> list[dict[str, Any]]:
    async with _pool(request).acquire() as conn:
        rows = await repository.moderation_queue(conn, exclude_auditor=principal.principal)
    return jsonable_encoder(rows)


class RegradeIn(Strict):
    domain: str
    grade: str


class ModerationIn(Strict):
    grades: list[RegradeIn]


@router.post(
    "/audits/{audit_id}/moderation",
    tags=["moderation"],
    status_code=status.HTTP_201_CREATED,
    summary="A second, independent grading of a sampled audit (any auditor but its own, or qa-admin); once only",
)
async def moderate(
    request: Request, audit_id: str, body: ModerationIn, principal: Principal = Depends(require_role(*AUDITORS))
) -> dict[str, Any]:
    with domain_errors():
        return await service.moderate(
            _pool(request), audit_id, [(g.domain, g.grade) for g in body.grades], moderator_id=principal.principal
        )


@router.get("/moderation/agreement", tags=["moderation"], summary="Agreement between auditors and moderators, "
            "per domain and per auditor")
async def moderation_agreement(
    request: Request,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    service_: Annotated[Service | None, Query(alias="service")] = None,
    _: Principal = Depends(require_role("lead-auditor", ADMIN, "reporting")),
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        pairs = await repository.grade_pairs(conn, month=month, service=service_.value if service_ else None)
    settings = _settings(request)
    return {"share": settings.moderation_share, **agreement(pairs).as_dict()}
