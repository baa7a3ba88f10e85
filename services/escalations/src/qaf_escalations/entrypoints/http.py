"""The HTTP API of escalations and the complaints desk. Every endpoint needs a bearer token.

Roles (the token's role; its principal is the caller's opaque id):

Escalations
- `POST /escalations` raise: cpa, iro (in their own name), qa-admin and case-system (naming
  `raised_by_role` and `raised_by_id`).
- `POST /escalations/{id}/progress`, `/withdraw`: the CPA/IRO who raised it, or qa-admin.
- `POST /escalations/{id}/resolve`: the CPA/IRO who raised it, qa-admin, or the addressed manager's
  side: a case-system token whose principal is the addressed team or manager.
- `GET /escalations`, `GET /escalations/{id}`, `GET /escalations/timeliness`: cpa, iro, qa-admin,
  case-system, reporting.
- `POST /escalations/overdue-sweep`: qa-admin; reports overdue stages as of a date.

Complaints desk
- `POST /complaints`, `/complaints/{id}/escalate`, `/extend`, `/resolve`: complaints, qa-admin.
- `GET /complaints`, `GET /complaints/{id}`, `GET /complaints/timeliness`: complaints, qa-admin, reporting.

Dates are event dates given by the caller; one after the service's today is refused (422). Bad
input gets 422 naming the field, an unknown escalation or complaint 404, an illegal transition
409 saying why, a role that may not do the thing 403. Free-text `note`s are stored, shown to the
desk's own roles, and never published on Kafka nor logged (the `reporting` role does not see them).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qaf_shared.envelope import OpaqueId
from qaf_shared.http import Principal, require_role, unit_of_work
from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
)

from qaf_escalations import usecases, views
from qaf_escalations.adapters.repository import Repository
from qaf_escalations.domain.complaints import ExtensionReason
from qaf_escalations.domain.escalations import EscalationStatus
from qaf_escalations.domain.permissions import ACTING_ROLES, RAISING_ROLES, READING_ROLES, Actor
from qaf_escalations.usecases import Uow

Note = Annotated[str, StringConstraints(max_length=4000)]

COMPLAINT_WRITERS = ("complaints", "qa-admin")
COMPLAINT_READERS = ("complaints", "qa-admin", "reporting")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RaiseEscalation(Body):
    case_id: OpaqueId
    reason: EscalationReason
    raised_on: date
    stage: EscalationStage = EscalationStage.INFORMAL
    escalation_id: OpaqueId | None = Field(default=None, description="Your id for it; one is made if left out.")
    addressed_to_team_id: OpaqueId | None = Field(default=None, description="Defaults to the case's team.")
    addressed_to_manager_id: OpaqueId | None = Field(default=None, description="Defaults to the case's team manager.")
    raised_by_role: EscalationRole | None = Field(default=None, description="Only for qa-admin and case-system.")
    raised_by_id: OpaqueId | None = Field(default=None, description="Only for qa-admin and case-system.")
    note: Note | None = None


class ProgressEscalation(Body):
    progressed_on: date
    to_stage: EscalationStage | None = Field(default=None, description="Defaults to the next stage up.")
    addressed_to_manager_id: OpaqueId | None = Field(
        default=None, description="The manager answering at the new stage; for team-manager defaults to the case's."
    )
    note: Note | None = Field(default=None, description="Why it is progressed.")


class ResolveEscalation(Body):
    resolved_on: date
    outcome: EscalationOutcome = Field(description="resolved, plan-changed or referred-on")
    note: Note | None = None


class WithdrawEscalation(Body):
    withdrawn_on: date
    note: Note | None = None


class SweepRequest(Body):
    as_of: date


class LogComplaint(Body):
    category: ComplaintCategory
    received_on: date
    service: Service | None = Field(default=None, description="Defaults to the case's service when case_id is given.")
    case_id: OpaqueId | None = None
    complaint_id: OpaqueId | None = Field(default=None, description="Your id for it; one is made if left out.")
    note: Note | None = None


class EscalateComplaint(Body):
    requested_on: date = Field(description="When the complainant asked for the next stage.")
    note: Note | None = None


class ExtendComplaint(Body):
    extended_on: date
    reason: ExtensionReason
    working_days: int | None = Field(
        default=None, gt=0, description="The stage's new timescale in working days; defaults to its maximum."
    )
    note: Note | None = None


class ResolveComplaint(Body):
    resolved_on: date
    outcome: ComplaintOutcome
    note: Note | None = None


def build_router(ctx: usecases.Context) -> APIRouter:
    router = APIRouter()
    transaction = Depends(unit_of_work(Repository))

    def actor(principal: Principal) -> Actor:
        return Actor(principal.role, principal.principal)

    # --- escalations --------------------------------------------------------------------------

    @router.post("/escalations", status_code=201, tags=["escalations"], summary="Raise an escalation")
    async def raise_escalation(
        body: RaiseEscalation, uow: Uow = transaction, principal: Principal = Depends(require_role(*RAISING_ROLES))
    ) -> views.EscalationView:
        """A CPA or IRO raises an escalation about a case known from the case systems (unknown case: 422).
        It is addressed to the case's team and team manager unless others are named; the stage's due date
        is counted in England and Wales working days."""
        fields = body.model_dump(exclude_none=True)
        return views.escalation_view(await usecases.raise_escalation(uow, ctx, actor(principal), **fields))

    @router.get("/escalations", tags=["escalations"], summary="List escalations")
    async def list_escalations(
        status_: Annotated[EscalationStatus | None, Query(alias="status")] = None,
        case_id: Annotated[str | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        uow: Uow = transaction,
        principal: Principal = Depends(require_role(*READING_ROLES)),
    ) -> views.EscalationList:
        escalations = await usecases.list_escalations(
            uow, status=status_, case_id=case_id, service=service, limit=limit, offset=offset
        )
        return views.escalation_list(escalations)

    @router.get("/escalations/timeliness", tags=["escalations"], summary="Timeliness by stage and service")
    async def escalations_timeliness(
        as_of: Annotated[date | None, Query(description="For open stages past due; defaults to today.")] = None,
        started_from: Annotated[date | None, Query()] = None,
        started_to: Annotated[date | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        uow: Uow = transaction,
        principal: Principal = Depends(require_role(*READING_ROLES)),
    ) -> views.EscalationTimelinessReport:
        """Per stage and service, of the stages started in the period: how many were answered (left by
        progression, resolution or withdrawal), how many within timescale, late, reported overdue, open."""
        as_of_used, rows = await usecases.escalations_timeliness(
            uow, ctx, as_of=as_of, started_from=started_from, started_to=started_to, service=service
        )
        return views.escalation_timeliness_report(as_of_used, started_from, started_to, rows)

    @router.get("/escalations/{escalation_id}", tags=["escalations"], summary="One escalation and its stages")
    async def get_escalation(
        escalation_id: str, uow: Uow = transaction, principal: Principal = Depends(require_role(*READING_ROLES))
    ) -> views.EscalationView:
        escalation, notes = await usecases.escalation_with_notes(uow, actor(principal), escalation_id)
        return views.escalation_view(escalation, notes)

    @router.post("/escalations/{escalation_id}/progress", tags=["escalations"], summary="Progress to a later stage")
    async def progress_escalation(
        escalation_id: str, body: ProgressEscalation, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> views.EscalationView:
        """The raiser (or qa-admin) takes the escalation up the management line: to the next stage, or a
        later one named in `to_stage`. Backwards, the same stage, or beyond the director: 409."""
        fields = body.model_dump(exclude_none=True)
        escalation = await usecases.progress_escalation(uow, ctx, actor(principal), escalation_id, **fields)
        return views.escalation_view(escalation)

    @router.post("/escalations/{escalation_id}/resolve", tags=["escalations"], summary="Resolve")
    async def resolve_escalation(
        escalation_id: str, body: ResolveEscalation, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> views.EscalationView:
        """The raiser, qa-admin, or the addressed team's or manager's case system records the resolution
        (resolved, plan-changed, referred-on). A closed escalation cannot be resolved again: 409."""
        fields = body.model_dump(exclude_none=True)
        escalation = await usecases.resolve_escalation(uow, ctx, actor(principal), escalation_id, **fields)
        return views.escalation_view(escalation)

    @router.post("/escalations/{escalation_id}/withdraw", tags=["escalations"], summary="Withdraw")
    async def withdraw_escalation(
        escalation_id: str, body: WithdrawEscalation, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> views.EscalationView:
        """The raiser or qa-admin withdraws an open escalation (published as resolved with outcome withdrawn)."""
        fields = body.model_dump(exclude_none=True)
        escalation = await usecases.withdraw_escalation(uow, ctx, actor(principal), escalation_id, **fields)
        return views.escalation_view(escalation)

    @router.post("/escalations/overdue-sweep", tags=["escalations"], summary="Report overdue stages as of a date")
    async def overdue_sweep(
        body: SweepRequest, uow: Uow = transaction, principal: Principal = Depends(require_role("qa-admin"))
    ) -> views.SweepReport:
        """Emits `escalation-overdue` once for each open escalation whose current stage's due date passed
        before `as_of` unanswered (a stage already reported is not reported again)."""
        return views.sweep_report(body.as_of, await usecases.sweep_overdue(uow, ctx, body.as_of))

    # --- complaints ---------------------------------------------------------------------------

    @router.post("/complaints", status_code=201, tags=["complaints"], summary="Log a complaint (stage 1)")
    async def log_complaint(
        body: LogComplaint, uow: Uow = transaction, principal: Principal = Depends(require_role(*COMPLAINT_WRITERS))
    ) -> views.ComplaintView:
        """Logs a complaint at stage 1 (local resolution, 10 working days). `case_id`, when given, must be a
        known case (422 otherwise); `service` then defaults to the case's."""
        fields = body.model_dump(exclude_none=True)
        return views.complaint_view(await usecases.log_complaint(uow, ctx, actor(principal), **fields))

    @router.get("/complaints", tags=["complaints"], summary="List complaints")
    async def list_complaints(
        service: Annotated[Service | None, Query()] = None,
        case_id: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        uow: Uow = transaction,
        principal: Principal = Depends(require_role(*COMPLAINT_READERS)),
    ) -> views.ComplaintList:
        complaints = await usecases.list_complaints(uow, service=service, case_id=case_id, limit=limit, offset=offset)
        return views.complaint_list(complaints)

    @router.get("/complaints/timeliness", tags=["complaints"], summary="Timeliness by stage and service")
    async def timeliness(
        as_of: Annotated[date | None, Query(description="For open stages past due; defaults to today.")] = None,
        received_from: Annotated[date | None, Query()] = None,
        received_to: Annotated[date | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        uow: Uow = transaction,
        principal: Principal = Depends(require_role(*COMPLAINT_READERS)),
    ) -> views.ComplaintTimelinessReport:
        """Per stage and service, of the stages received in the period: how many were answered, how many
        within timescale (extensions counted), late, escalated unanswered, still open, open past due."""
        as_of_used, rows = await usecases.complaint_timeliness(
            uow, ctx, as_of=as_of, received_from=received_from, received_to=received_to, service=service
        )
        return views.complaint_timeliness_report(as_of_used, received_from, received_to, rows)

    @router.get("/complaints/{complaint_id}", tags=["complaints"], summary="One complaint and its stages")
    async def get_complaint(
        complaint_id: str, uow: Uow = transaction, principal: Principal = Depends(require_role(*COMPLAINT_READERS))
    ) -> views.ComplaintView:
        complaint, notes = await usecases.complaint_with_notes(uow, actor(principal), complaint_id)
        return views.complaint_view(complaint, notes)

    @router.post("/complaints/{complaint_id}/escalate", tags=["complaints"], summary="Take to the next stage")
    async def escalate_complaint(
        complaint_id: str, body: EscalateComplaint, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> views.ComplaintView:
        """Stage 1 → 2 → 3, once the current stage is answered or its timescale has passed; publishes
        `complaint-logged` again with the new stage. Beyond stage 3, or a withdrawn complaint: 409."""
        fields = body.model_dump(exclude_none=True)
        complaint = await usecases.escalate_complaint(uow, ctx, actor(principal), complaint_id, **fields)
        return views.complaint_view(complaint)

    @router.post("/complaints/{complaint_id}/extend", tags=["complaints"], summary="Extend the stage's timescale")
    async def extend_complaint(
        complaint_id: str, body: ExtendComplaint, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> views.ComplaintView:
        """Stage 1 up to 20 working days, stage 2 up to 65, with a reason code, agreed before the timescale
        runs out. Stage 3 cannot be extended (409)."""
        fields = body.model_dump(exclude_none=True)
        complaint = await usecases.extend_complaint(uow, ctx, actor(principal), complaint_id, **fields)
        return views.complaint_view(complaint)

    @router.post("/complaints/{complaint_id}/resolve", tags=["complaints"], summary="Answer the current stage")
    async def resolve_complaint(
        complaint_id: str, body: ResolveComplaint, uow: Uow = transaction,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> views.ComplaintView:
        """Upheld, partly upheld, not upheld, or withdrawn; publishes `complaint-resolved` with whether it was
        answered within the stage's timescale."""
        fields = body.model_dump(exclude_none=True)
        complaint = await usecases.resolve_complaint(uow, ctx, actor(principal), complaint_id, **fields)
        return views.complaint_view(complaint)

    return router
