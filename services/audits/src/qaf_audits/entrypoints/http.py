"""The audits HTTP API. Every endpoint needs a bearer token; what each role may do is listed per route.

Errors (raised by the use cases, answered by the platform's one handler): 404 unknown
audit/template/concern, 403 right role but not this audit, 409 a state that forbids the request
(already completed, already acknowledged...), 422 invalid content with one entry per faulty field:
`{"detail": [{"loc": ["body", "domains", 2, "grade"], "field": "domains[2].grade", "msg": "...",
"type": "value_error"}]}`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from qaf_shared.envelope import OpaqueId
from qaf_shared.http import Principal, require_role, unit_of_work
from qaf_shared.vocabulary import Service

from qaf_audits import usecases
from qaf_audits.adapters.repository import Repository
from qaf_audits.domain.audits import AnswerEntry, DomainEntry, Submission, ThemeEntry
from qaf_audits.usecases import Audits, Context, ThemedCase
from qaf_audits.views import (
    AgreementReportView,
    AuditDetailView,
    AuditView,
    ConcernView,
    LoadedTemplateView,
    ModerationQueueView,
    ModerationView,
    SubmissionView,
    SweepView,
    TemplateSummaryView,
    TemplateView,
    ThemedAllocationView,
)

ADMIN = usecases.ADMIN
AUDITORS = ("auditor", "lead-auditor", ADMIN)
MONTH = r"^\d{4}-\d{2}$"

# a fresh unit of work on the service's pool for each request
AuditsUnit = Annotated[Audits, Depends(unit_of_work(Repository))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class AcknowledgementIn(Strict):
    response: str = Field(default="", max_length=20_000, description="Free text: kept in this service only.")


class SweepIn(Strict):
    as_of: date = Field(description="Flag audits due before this date (event time of the sweep).")


class RegradeIn(Strict):
    domain: str
    grade: str


class ModerationIn(Strict):
    grades: list[RegradeIn]


def build_router(ctx: Context) -> APIRouter:
    router = APIRouter()

    # --- Templates -----------------------------------------------------------------------------

    @router.get("/templates", tags=["templates"], summary="Every template version stored")
    async def list_templates(
        uow: AuditsUnit, _: Principal = Depends(require_role(*AUDITORS, "reporting"))
    ) -> list[TemplateSummaryView]:
        return [TemplateSummaryView.model_validate(row) for row in await usecases.list_templates(uow)]

    @router.get("/templates/{template_id}", tags=["templates"], summary="A template version (default: the latest)")
    async def get_template(
        uow: AuditsUnit,
        template_id: str,
        version: Annotated[int | None, Query(ge=1)] = None,
        _: Principal = Depends(require_role(*AUDITORS, "reporting")),
    ) -> TemplateView:
        return TemplateView.of(await usecases.template(uow, template_id, version))

    @router.post(
        "/templates",
        tags=["templates"],
        status_code=status.HTTP_201_CREATED,
        summary="Load a themed (event) audit template; it becomes that template's next version (qa-admin)",
    )
    async def post_template(
        uow: AuditsUnit,
        definition: Annotated[dict[str, Any], Body(description="The template as data, as in templates/*.yaml")],
        principal: Principal = Depends(require_role(ADMIN)),
    ) -> LoadedTemplateView:
        template, created = await usecases.load_template(uow, definition, loaded_by=principal.principal)
        return LoadedTemplateView.of(template, created=created)

    # --- Audits --------------------------------------------------------------------------------

    @router.get("/audits", tags=["audits"], summary="Audits: an auditor sees their own, a lead auditor theirs and "
                "those they lead, qa-admin all")
    async def list_audits(
        uow: AuditsUnit,
        status_: Annotated[str | None, Query(alias="status", pattern="^(pending|completed)$")] = None,
        overdue: bool | None = None,
        month: Annotated[str | None, Query(pattern=MONTH)] = None,
        auditor_id: str | None = None,
        principal: Principal = Depends(require_role(*AUDITORS)),
    ) -> list[AuditView]:
        rows = await usecases.list_audits(uow, principal=principal.principal, role=principal.role, status=status_,
                                          overdue=overdue, month=month, auditor_id=auditor_id)
        return [AuditView.of(row) for row in rows]

    @router.get("/audits/{audit_id}", tags=["audits"], summary="One audit with its template and, once completed, "
                "what was submitted")
    async def get_audit(
        uow: AuditsUnit, audit_id: str, principal: Principal = Depends(require_role(*AUDITORS))
    ) -> AuditDetailView:
        found = await usecases.audit_detail(uow, audit_id, principal=principal.principal, role=principal.role)
        return AuditDetailView.detail(found)

    @router.post(
        "/audits/{audit_id}/submission",
        tags=["audits"],
        status_code=status.HTTP_201_CREATED,
        summary="Submit a completed audit (its auditor, the lead auditor of its service, or qa-admin); once only",
    )
    async def submit(
        uow: AuditsUnit, audit_id: str, body: SubmissionIn, principal: Principal = Depends(require_role(*AUDITORS))
    ) -> SubmissionView:
        submitted = await usecases.submit_audit(
            uow, audit_id, body.to_domain(), principal=principal.principal, role=principal.role, ctx=ctx
        )
        return SubmissionView.of(submitted)

    @router.post(
        "/themed-audits",
        tags=["audits"],
        status_code=status.HTTP_201_CREATED,
        summary="Allocate a themed audit by case list (qa-admin); re-sending a case changes nothing",
    )
    async def allocate_themed(
        uow: AuditsUnit, body: ThemedAllocationIn, _: Principal = Depends(require_role(ADMIN))
    ) -> ThemedAllocationView:
        audits = await usecases.allocate_themed(
            uow,
            template_id=body.template_id,
            cases=[ThemedCase(**c.model_dump()) for c in body.cases],
            lead_auditor_id=body.lead_auditor_id,
            due_on=body.due_on,
            allocated_at=body.allocated_at,
            month=body.month,
            ctx=ctx,
        )
        return ThemedAllocationView.model_validate({"template_id": body.template_id, "audits": audits},
                                                   from_attributes=True)

    # --- Practice concerns ---------------------------------------------------------------------

    @router.get("/practice-concerns", tags=["practice concerns"], summary="Concerns addressed to the caller "
                "(qa-admin: all)")
    async def list_concerns(
        uow: AuditsUnit,
        open_only: Annotated[bool, Query(alias="open")] = False,
        service_: Annotated[Service | None, Query(alias="service")] = None,
        principal: Principal = Depends(require_role(*AUDITORS)),
    ) -> list[ConcernView]:
        rows = await usecases.list_concerns(uow, principal=principal.principal, role=principal.role,
                                            open_only=open_only, service=service_)
        return [ConcernView.model_validate(row) for row in rows]

    @router.post(
        "/practice-concerns/{concern_id}/acknowledge",
        tags=["practice concerns"],
        summary="The manager it is addressed to (or qa-admin) acknowledges a practice concern; once only",
    )
    async def acknowledge(
        uow: AuditsUnit,
        concern_id: str,
        body: AcknowledgementIn | None = None,
        principal: Principal = Depends(require_role(*AUDITORS)),
    ) -> ConcernView:
        concern = await usecases.acknowledge_concern(
            uow,
            concern_id,
            principal=principal.principal,
            role=principal.role,
            response=body.response if body else "",
            ctx=ctx,
        )
        return ConcernView.model_validate(concern)

    # --- Overdue -------------------------------------------------------------------------------

    @router.post("/overdue/sweep", tags=["overdue"], summary="Flag overdue audits as of a date (qa-admin)")
    async def sweep(uow: AuditsUnit, body: SweepIn, _: Principal = Depends(require_role(ADMIN))) -> SweepView:
        return SweepView(as_of=body.as_of, flagged=await usecases.sweep_overdue(uow, body.as_of))

    # --- Moderation ----------------------------------------------------------------------------

    @router.get("/moderation/queue", tags=["moderation"], summary="Sampled audits awaiting a second grading "
                "(the caller's own audits left out; grades hidden so the moderation stays independent)")
    async def moderation_queue(
        uow: AuditsUnit, principal: Principal = Depends(require_role(*AUDITORS))
    ) -> list[ModerationQueueView]:
        rows = await usecases.moderation_queue(uow, principal=principal.principal)
        return [ModerationQueueView.model_validate(row) for row in rows]

    @router.post(
        "/audits/{audit_id}/moderation",
        tags=["moderation"],
        status_code=status.HTTP_201_CREATED,
        summary="A second, independent grading of a sampled audit (any auditor but its own, or qa-admin); once only",
    )
    async def moderate(
        uow: AuditsUnit, audit_id: str, body: ModerationIn, principal: Principal = Depends(require_role(*AUDITORS))
    ) -> ModerationView:
        result = await usecases.moderate(
            uow, audit_id, [(g.domain, g.grade) for g in body.grades], moderator_id=principal.principal, ctx=ctx
        )
        return ModerationView.model_validate(result, from_attributes=True)

    @router.get("/moderation/agreement", tags=["moderation"], summary="Agreement between auditors and moderators, "
                "per domain and per auditor")
    async def moderation_agreement(
        uow: AuditsUnit,
        month: Annotated[str | None, Query(pattern=MONTH)] = None,
        service_: Annotated[Service | None, Query(alias="service")] = None,
        _: Principal = Depends(require_role("lead-auditor", ADMIN, "reporting")),
    ) -> AgreementReportView:
        report = await usecases.moderation_agreement(uow, month=month, service=service_)
        return AgreementReportView.of(report, share=ctx.settings.moderation_share)

    return router
