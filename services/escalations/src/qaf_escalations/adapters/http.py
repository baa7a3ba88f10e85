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

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qaf_shared.envelope import OpaqueId
from qaf_shared.http import Principal, require_role
from qaf_shared.vocabulary import (
    ComplaintCategory,
    ComplaintOutcome,
    EscalationOutcome,
    EscalationReason,
    EscalationRole,
    EscalationStage,
    Service,
)

from qaf_escalations import service_layer as sl
from qaf_escalations.adapters.repository import Repository
from qaf_escalations.domain.complaints import ExtensionReason
from qaf_escalations.domain.errors import DomainError, InvalidInput, NotAllowed, NotFound
from qaf_escalations.domain.escalations import EscalationStatus
from qaf_escalations.domain.permissions import ACTING_ROLES, RAISING_ROLES, READING_ROLES, Actor

Note = Annotated[str, StringConstraints(max_length=4000)]
T = TypeVar("T")

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


def _http_error(exc: DomainError) -> HTTPException:
    if isinstance(exc, InvalidInput):
        loc = ["body", exc.field] if exc.field else ["body"]
        return HTTPException(
            422, detail=[{"loc": loc, "msg": exc.message, "type": "value_error"}]
        )
    if isinstance(exc, NotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=exc.message)
    if isinstance(exc, NotAllowed):
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=exc.message)
    return HTTPException(status.HTTP_409_CONFLICT, detail=exc.message)


def build_router(ctx: sl.Context) -> APIRouter:
    router = APIRouter()

    @asynccontextmanager
    async def transaction(request: Request) -> AsyncIterator[asyncpg.Connection]:
        pool: asyncpg.Pool = request.app.state.pool
        try:
            async with pool.acquire() as conn, conn.transaction():
                yield conn
        except DomainError as exc:
            raise _http_error(exc) from None

    async def run(request: Request, use_case: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with transaction(request) as conn:
            return await use_case(conn)

    def actor(principal: Principal) -> Actor:
        return Actor(principal.role, principal.principal)

    # --- escalations --------------------------------------------------------------------------

    @router.post("/escalations", status_code=201, tags=["escalations"], summary="Raise an escalation")
    async def raise_escalation(
        body: RaiseEscalation, request: Request, principal: Principal = Depends(require_role(*RAISING_ROLES))
    ) -> dict[str, Any]:
        """A CPA or IRO raises an escalation about a case known from the case systems (unknown case: 422).
        It is addressed to the case's team and team manager unless others are named; the stage's due date
        is counted in England and Wales working days."""
        fields = body.model_dump(exclude_none=True)
        escalation = await run(request, lambda conn: sl.raise_escalation(conn, ctx, actor(principal), **fields))
        return sl.escalation_view(escalation)

    @router.get("/escalations", tags=["escalations"], summary="List escalations")
    async def list_escalations(
        request: Request,
        status_: Annotated[EscalationStatus | None, Query(alias="status")] = None,
        case_id: Annotated[str | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        principal: Principal = Depends(require_role(*READING_ROLES)),
    ) -> dict[str, Any]:
        async with transaction(request) as conn:
            repo = Repository(conn)
            ids = await repo.list_escalations(
                status=status_.value if status_ else None, case_id=case_id,
                service=service.value if service else None, limit=limit, offset=offset,
            )
            items = [sl.escalation_view(e) for i in ids if (e := await repo.get_escalation(i)) is not None]
        return {"escalations": items, "count": len(items)}

    @router.get("/escalations/timeliness", tags=["escalations"], summary="Timeliness by stage and service")
    async def escalations_timeliness(
        request: Request,
        as_of: Annotated[date | None, Query(description="For open stages past due; defaults to today.")] = None,
        started_from: Annotated[date | None, Query()] = None,
        started_to: Annotated[date | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        principal: Principal = Depends(require_role(*READING_ROLES)),
    ) -> dict[str, Any]:
        """Per stage and service, of the stages started in the period: how many were answered (left by
        progression, resolution or withdrawal), how many within timescale, late, reported overdue, open."""
        async with transaction(request) as conn:
            as_of_used, rows = await sl.escalations_timeliness(
                conn, ctx, as_of=as_of, started_from=started_from, started_to=started_to, service=service
            )
        return {
            "as_of": as_of_used,
            "started_from": started_from,
            "started_to": started_to,
            "rows": [row.as_dict() for row in rows],
        }

    @router.get("/escalations/{escalation_id}", tags=["escalations"], summary="One escalation and its stages")
    async def get_escalation(
        escalation_id: str, request: Request, principal: Principal = Depends(require_role(*READING_ROLES))
    ) -> dict[str, Any]:
        async with transaction(request) as conn:
            repo = Repository(conn)
            escalation = await repo.get_escalation(escalation_id)
            if escalation is None:
                raise NotFound(f"no escalation {escalation_id}")
            notes = None if principal.role == "reporting" else await repo.notes("escalation", escalation_id)
        return sl.escalation_view(escalation, notes)

    @router.post("/escalations/{escalation_id}/progress", tags=["escalations"], summary="Progress to a later stage")
    async def progress_escalation(
        escalation_id: str, body: ProgressEscalation, request: Request,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> dict[str, Any]:
        """The raiser (or qa-admin) takes the escalation up the management line: to the next stage, or a
        later one named in `to_stage`. Backwards, the same stage, or beyond the director: 409."""
        fields = body.model_dump(exclude_none=True)
        escalation = await run(
            request, lambda conn: sl.progress_escalation(conn, ctx, actor(principal), escalation_id, **fields)
        )
        return sl.escalation_view(escalation)

    @router.post("/escalations/{escalation_id}/resolve", tags=["escalations"], summary="Resolve")
    async def resolve_escalation(
        escalation_id: str, body: ResolveEscalation, request: Request,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> dict[str, Any]:
        """The raiser, qa-admin, or the addressed team's or manager's case system records the resolution
        (resolved, plan-changed, referred-on). A closed escalation cannot be resolved again: 409."""
        fields = body.model_dump(exclude_none=True)
        escalation = await run(
            request, lambda conn: sl.resolve_escalation(conn, ctx, actor(principal), escalation_id, **fields)
        )
        return sl.escalation_view(escalation)

    @router.post("/escalations/{escalation_id}/withdraw", tags=["escalations"], summary="Withdraw")
    async def withdraw_escalation(
        escalation_id: str, body: WithdrawEscalation, request: Request,
        principal: Principal = Depends(require_role(*ACTING_ROLES)),
    ) -> dict[str, Any]:
        """The raiser or qa-admin withdraws an open escalation (published as resolved with outcome withdrawn)."""
        fields = body.model_dump(exclude_none=True)
        escalation = await run(
            request, lambda conn: sl.withdraw_escalation(conn, ctx, actor(principal), escalation_id, **fields)
        )
        return sl.escalation_view(escalation)

    @router.post("/escalations/overdue-sweep", tags=["escalations"], summary="Report overdue stages as of a date")
    async def overdue_sweep(
        body: SweepRequest, request: Request, principal: Principal = Depends(require_role("qa-admin"))
    ) -> dict[str, Any]:
        """Emits `escalation-overdue` once for each open escalation whose current stage's due date passed
        before `as_of` unanswered (a stage already reported is not reported again)."""
        try:
            reported = await sl.sweep_overdue(request.app.state.pool, ctx, body.as_of)
        except DomainError as exc:
            raise _http_error(exc) from None
        return {
            "as_of": body.as_of,
            "overdue": [{"escalation_id": r.escalation_id, "stage": r.stage, "due_on": r.due_on} for r in reported],
        }

    # --- complaints ---------------------------------------------------------------------------

    @router.post("/complaints", status_code=201, tags=["complaints"], summary="Log a complaint (stage 1)")
    async def log_complaint(
        body: LogComplaint, request: Request, principal: Principal = Depends(require_role(*COMPLAINT_WRITERS))
    ) -> dict[str, Any]:
        """Logs a complaint at stage 1 (local resolution, 10 working days). `case_id`, when given, must be a
        known case (422 otherwise); `service` then defaults to the case's."""
        fields = body.model_dump(exclude_none=True)
        complaint = await run(request, lambda conn: sl.log_complaint(conn, ctx, actor(principal), **fields))
        return sl.complaint_view(complaint)

    @router.get("/complaints", tags=["complaints"], summary="List complaints")
    async def list_complaints(
        request: Request,
        service: Annotated[Service | None, Query()] = None,
        case_id: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        principal: Principal = Depends(require_role(*COMPLAINT_READERS)),
    ) -> dict[str, Any]:
        async with transaction(request) as conn:
            repo = Repository(conn)
            ids = await repo.list_complaints(
                service=service.value if service else None, case_id=case_id, limit=limit, offset=offset
            )
            items = [sl.complaint_view(c) for i in ids if (c := await repo.get_complaint(i)) is not None]
        return {"complaints": items, "count": len(items)}

    @router.get("/complaints/timeliness", tags=["complaints"], summary="Timeliness by stage and service")
    async def timeliness(
        request: Request,
        as_of: Annotated[date | None, Query(description="For open stages past due; defaults to today.")] = None,
        received_from: Annotated[date | None, Query()] = None,
        received_to: Annotated[date | None, Query()] = None,
        service: Annotated[Service | None, Query()] = None,
        principal: Principal = Depends(require_role(*COMPLAINT_READERS)),
    ) -> dict[str, Any]:
        """Per stage and service, of the stages received in the period: how many were answered, how many
        within timescale (extensions counted), late, escalated unanswered, still open, open past due."""
        async with transaction(request) as conn:
            as_of_used, rows = await sl.complaint_timeliness(
                conn, ctx, as_of=as_of, received_from=received_from, received_to=received_to, service=service
            )
        return {
            "as_of": as_of_used,
            "received_from": received_from,
            "received_to": received_to,
            "rows": [row.as_dict() for row in rows],
        }

    @router.get("/complaints/{complaint_id}", tags=["complaints"], summary="One complaint and its stages")
    async def get_complaint(
        complaint_id: str, request: Request, principal: Principal = Depends(require_role(*COMPLAINT_READERS))
    ) -> dict[str, Any]:
        async with transaction(request) as conn:
            repo = Repository(conn)
            complaint = await repo.get_complaint(complaint_id)
            if complaint is None:
                raise NotFound(f"no complaint {complaint_id}")
            notes = None if principal.role == "reporting" else await repo.notes("complaint", complaint_id)
        return sl.complaint_view(complaint, notes)

    @router.post("/complaints/{complaint_id}/escalate", tags=["complaints"], summary="Take to the next stage")
    async def escalate_complaint(
        complaint_id: str, body: EscalateComplaint, request: Request,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> dict[str, Any]:
        """Stage 1 → 2 → 3, once the current stage is answered or its timescale has passed; publishes
        `complaint-logged` again with the new stage. Beyond stage 3, or a withdrawn complaint: 409."""
        fields = body.model_dump(exclude_none=True)
        complaint = await run(
            request, lambda conn: sl.escalate_complaint(conn, ctx, actor(principal), complaint_id, **fields)
        )
        return sl.complaint_view(complaint)

    @router.post("/complaints/{complaint_id}/extend", tags=["complaints"], summary="Extend the stage's timescale")
    async def extend_complaint(
        complaint_id: str, body: ExtendComplaint, request: Request,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> dict[str, Any]:
        """Stage 1 up to 20 working days, stage 2 up to 65, with a reason code, agreed before the timescale
        runs out. Stage 3 cannot be extended (409)."""
        fields = body.model_dump(exclude_none=True)
        complaint = await run(
            request, lambda conn: sl.extend_complaint(conn, ctx, actor(principal), complaint_id, **fields)
        )
        return sl.complaint_view(complaint)

    @router.post("/complaints/{complaint_id}/resolve", tags=["complaints"], summary="Answer the current stage")
    async def resolve_complaint(
        complaint_id: str, body: ResolveComplaint, request: Request,
        principal: Principal = Depends(require_role(*COMPLAINT_WRITERS)),
    ) -> dict[str, Any]:
        """Upheld, partly upheld, not upheld, or withdrawn; publishes `complaint-resolved` with whether it was
        answered within the stage's timescale."""
        fields = body.model_dump(exclude_none=True)
        complaint = await run(
            request, lambda conn: sl.resolve_complaint(conn, ctx, actor(principal), complaint_id, **fields)
        )
        return sl.complaint_view(complaint)

    return router
