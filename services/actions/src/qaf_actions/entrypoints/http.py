"""HTTP API of the actions service: the plan (read; edit as qa-admin), milestone progress (action
owners), drift status and flags, and the Board digests (board, qa-admin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qaf_shared.http import Principal, require_role, unit_of_work
from qaf_shared.unit_of_work import UnitOfWork
from qaf_shared.vocabulary import MilestoneStatus

from qaf_actions import usecases
from qaf_actions.adapters.repository import Repository
from qaf_actions.usecases import Context
from qaf_actions.views import (
    DigestEntry,
    DigestIssued,
    DriftView,
    MilestoneAccepted,
    MilestoneEntry,
    PlanVersionCreated,
    PlanVersionEntry,
    PlanView,
    StatusView,
)

READERS = ("qa-admin", "board", "action-owner", "reporting")
RequestUoW = Annotated[UnitOfWork[Repository], Depends(unit_of_work(Repository))]


class MilestoneUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: MilestoneStatus
    note: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="Free text kept in the service's database only; never published."
    )
    updated_on: date | None = Field(default=None, description="Default: today by the service's clock.")


class AreaChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: dict[str, Any]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    base_version: int | None = Field(default=None, description="Refused with 409 if the plan has moved on.")


class IndicatorChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indicator: dict[str, Any]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    base_version: int | None = None


class DigestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: date
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = None
    force: bool = False
    send: bool = True


def _document_responses(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {}}, "description": f"The digest as {media_type}"}}


def build_router(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/actions", tags=["actions"])

    # -- the plan --------------------------------------------------------------------------------------

    @router.get("/plan", summary="The action plan in force (Appendix 1 and its indicators)")
    async def get_plan(uow: RequestUoW, _: Principal = Depends(require_role(*READERS))) -> PlanView:
        version, plan = await usecases.plan_in_force(uow, ctx)
        return PlanView(version=version, plan=plan)

    @router.get("/plan/versions", summary="Every change to the plan: who, when, what")
    async def plan_versions(uow: RequestUoW,
                            _: Principal = Depends(require_role("qa-admin", "board"))) -> list[PlanVersionEntry]:
        return [PlanVersionEntry(**entry) for entry in await usecases.plan_history(uow, ctx)]

    @router.get("/plan/versions/{version}", summary="The plan as it was at a version")
    async def plan_version(version: int, uow: RequestUoW,
                           _: Principal = Depends(require_role("qa-admin", "board"))) -> PlanView:
        return PlanView(version=version, plan=await usecases.plan_at_version(uow, version))

    @router.put("/plan/areas/{area_id}", summary="Replace one area (its actions, dates, owners, indicators)")
    async def put_area(area_id: str, change: AreaChange, uow: RequestUoW,
                       principal: Principal = Depends(require_role("qa-admin"))) -> PlanVersionCreated:
        version = await usecases.replace_area(uow, ctx, area_id, change.area, changed_by=principal.principal,
                                              summary=change.summary, base_version=change.base_version)
        return PlanVersionCreated(version=version)

    @router.put("/plan/areas/{area_id}/indicators/{indicator_id}", summary="Add or replace one indicator of an area")
    async def put_indicator(area_id: str, indicator_id: str, change: IndicatorChange, uow: RequestUoW,
                            principal: Principal = Depends(require_role("qa-admin"))) -> PlanVersionCreated:
        version = await usecases.replace_indicator(uow, ctx, area_id, indicator_id, change.indicator,
                                                   changed_by=principal.principal, summary=change.summary,
                                                   base_version=change.base_version)
        return PlanVersionCreated(version=version)

    # -- milestones ------------------------------------------------------------------------------------

    @router.post("/plan/areas/{area_id}/actions/{action_id}/milestones", status_code=202,
                 summary="An action owner reports progress (not-started, in-progress, done, blocked)")
    async def post_milestone(
        area_id: str, action_id: str, body: MilestoneUpdate, uow: RequestUoW,
        principal: Principal = Depends(require_role("action-owner", "qa-admin")),
    ) -> MilestoneAccepted:
        envelope = await usecases.report_milestone(
            uow, ctx, area_id=area_id, action_id=action_id, status=body.status, updated_by=principal.principal,
            updated_on=body.updated_on, note=body.note,
        )
        return MilestoneAccepted(event_id=envelope.event_id, status=body.status, updated_on=envelope.payload.updated_on)

    @router.get("/milestones", summary="Milestone progress reported, with notes")
    async def milestones(
        uow: RequestUoW, area_id: str | None = None,
        _: Principal = Depends(require_role("qa-admin", "action-owner", "board")),
    ) -> list[MilestoneEntry]:
        return [MilestoneEntry(**entry) for entry in await usecases.milestone_log(uow, area_id)]

    # -- drift -----------------------------------------------------------------------------------------

    @router.get("/status", summary="Each area's status and explanation as of a date (default: the clock's today)")
    async def get_status(uow: RequestUoW, as_of: date | None = Query(default=None),
                         _: Principal = Depends(require_role(*READERS))) -> StatusView:
        return StatusView.of(await usecases.drift_status(uow, ctx, as_of))

    @router.get("/drift", summary="Flags raised and cleared, and what is in drift now")
    async def get_drift(uow: RequestUoW, after: date | None = None, until: date | None = None,
                        _: Principal = Depends(require_role(*READERS))) -> DriftView:
        return DriftView.of(*await usecases.drift_log(uow, after, until))

    # -- digests ---------------------------------------------------------------------------------------

    @router.post("/digests", summary="Produce the Board digest as of a date (sent once per period unless forced)",
                 responses={201: {"model": DigestIssued, "description": "Issued now"}})
    async def post_digest(body: DigestRequest, uow: RequestUoW, response: Response,
                          _: Principal = Depends(require_role("qa-admin"))) -> DigestIssued:
        outcome = await usecases.issue_digest(uow, ctx, as_of=body.as_of, period=body.period, force=body.force,
                                              send=body.send)
        response.status_code = 201 if outcome.issued else 200
        return DigestIssued(digest_id=outcome.digest_id, period=outcome.period, issued=outcome.issued,
                            sent=outcome.sent, summary=outcome.summary)

    @router.get("/digests", summary="Digests issued")
    async def list_digests(uow: RequestUoW,
                           _: Principal = Depends(require_role("board", "qa-admin"))) -> list[DigestEntry]:
        return [DigestEntry(**entry) for entry in await usecases.digests(uow)]

    @router.get("/digests/{digest_id}.pdf", summary="A digest as PDF", response_class=Response,
                responses=_document_responses("application/pdf"))
    async def digest_pdf(digest_id: str, uow: RequestUoW,
                         _: Principal = Depends(require_role("board", "qa-admin"))) -> Response:
        row = await usecases.digest_document(uow, digest_id)
        return Response(bytes(row["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{digest_id}.pdf"'})

    @router.get("/digests/{digest_id}.html", summary="A digest as HTML", response_class=Response,
                responses=_document_responses("text/html"))
    async def digest_html(digest_id: str, uow: RequestUoW,
                          _: Principal = Depends(require_role("board", "qa-admin"))) -> Response:
        row = await usecases.digest_document(uow, digest_id)
        return Response(row["html"], media_type="text/html")

    return router
