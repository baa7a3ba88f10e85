"""HTTP API of the actions service: the plan (read; edit as qa-admin), milestone progress (action
owners), drift status and flags, and the Board digests (board, qa-admin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from qaf_shared.http import Principal, require_role
from qaf_shared.vocabulary import MilestoneStatus

from qaf_actions.adapters import repository
from qaf_actions.domain.drift import Evaluation
from qaf_actions.domain.plan import ActionPlan, Area, Indicator
from qaf_actions.services import Context, evaluate_as_of, plan_in_force, reevaluate, report_milestone

READERS = ("qa-admin", "board", "action-owner", "reporting")


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


def _ctx(request: Request) -> Context:
    return request.app.state.runtime.definition.context  # type: ignore[no-any-return]


def _unprocessable(exc: ValidationError, prefix: str) -> HTTPException:
    detail = [
        {"loc": [prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors(include_url=False)
    ]
    return HTTPException(422, detail=detail)


def evaluation_json(e: Evaluation) -> dict[str, Any]:
    return {
        "as_of": e.as_of.isoformat(),
        "plan_version": e.plan_version,
        "counts": {k.value: v for k, v in e.counts().items()},
        "areas": [
            {
                "area_id": a.area_id, "status": a.status.value, "explanation": a.explanation,
                "indicators": [{"indicator_id": r.indicator_id, "status": r.status.value, "explanation": r.explanation,
                                "figures": r.figures} for r in a.indicators],
                "actions": [{"action_id": r.action_id, "status": r.status.value, "milestone": r.milestone.value,
                             "explanation": r.explanation} for r in a.actions],
                "drift": [{"kind": f.kind.value, "subject_id": f.subject_id} for f in a.findings],
            }
            for a in e.areas
        ],
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/actions", tags=["actions"])

    # -- the plan --------------------------------------------------------------------------------------

    @router.get("/plan", summary="The action plan in force (Appendix 1 and its indicators)")
    async def get_plan(request: Request, _: Principal = Depends(require_role(*READERS))) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            version, plan = await plan_in_force(conn, _ctx(request))
        return {"version": version, "plan": plan.model_dump(mode="json")}

    @router.get("/plan/versions", summary="Every change to the plan: who, when, what")
    async def plan_versions(request: Request, _: Principal = Depends(require_role("qa-admin", "board"))) -> list[dict[str, Any]]:
        async with request.app.state.pool.acquire() as conn:
            await plan_in_force(conn, _ctx(request))
            return await repository.plan_history(conn)

    @router.get("/plan/versions/{version}", summary="The plan as it was at a version")
    async def plan_version(version: int, request: Request,
                           _: Principal = Depends(require_role("qa-admin", "board"))) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            plan = await repository.plan_at_version(conn, version)
        if plan is None:
            raise HTTPException(404, detail=f"no plan version {version}")
        return {"version": version, "plan": plan.model_dump(mode="json")}

    async def _change(request: Request, principal: Principal, change: Any, make: Any) -> dict[str, Any]:
        ctx = _ctx(request)
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            _, plan = await plan_in_force(conn, ctx)
            new_plan: ActionPlan = make(plan)
            try:
                version = await repository.save_plan(
                    conn, new_plan, changed_by=principal.principal, summary=change.summary,
                    base_version=change.base_version, seed_text=ctx.seed_text,
                )
            except repository.PlanConflict as exc:
                raise HTTPException(409, detail=str(exc)) from None
            await reevaluate(conn, ctx)
        return {"version": version}

    @router.put("/plan/areas/{area_id}", summary="Replace one area (its actions, dates, owners, indicators)")
    async def put_area(area_id: str, change: AreaChange, request: Request,
                       principal: Principal = Depends(require_role("qa-admin"))) -> dict[str, Any]:
        try:
            area = Area.model_validate(change.area)
        except ValidationError as exc:
            raise _unprocessable(exc, "area") from None
        if area.area_id.value != area_id:
            raise HTTPException(422, detail=f"area.area_id {area.area_id.value!r} does not match the path {area_id!r}")

        def make(plan: ActionPlan) -> ActionPlan:
            if plan.area(area_id) is None:
                raise HTTPException(404, detail=f"no area {area_id!r} in the plan")
            return plan.with_area(area)

        return await _change(request, principal, change, make)

    @router.put("/plan/areas/{area_id}/indicators/{indicator_id}", summary="Add or replace one indicator of an area")
    async def put_indicator(area_id: str, indicator_id: str, change: IndicatorChange, request: Request,
                            principal: Principal = Depends(require_role("qa-admin"))) -> dict[str, Any]:
        try:
            indicator = Indicator.model_validate(change.indicator)
        except ValidationError as exc:
            raise _unprocessable(exc, "indicator") from None
        if indicator.indicator_id != indicator_id:
            raise HTTPException(422, detail="indicator.indicator_id does not match the path")

        def make(plan: ActionPlan) -> ActionPlan:
            area = plan.area(area_id)
            if area is None:
                raise HTTPException(404, detail=f"no area {area_id!r} in the plan")
            others = [i for i in area.indicators if i.indicator_id != indicator_id]
            return plan.with_area(area.model_copy(update={"indicators": [*others, indicator]}))

        return await _change(request, principal, change, make)

    # -- milestones ------------------------------------------------------------------------------------

    @router.post("/plan/areas/{area_id}/actions/{action_id}/milestones", status_code=202,
                 summary="An action owner reports progress (not-started, in-progress, done, blocked)")
    async def post_milestone(area_id: str, action_id: str, body: MilestoneUpdate, request: Request,
                             principal: Principal = Depends(require_role("action-owner", "qa-admin"))) -> dict[str, Any]:
        ctx = _ctx(request)
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            _, plan = await plan_in_force(conn, ctx)
            area = plan.area(area_id)
            if area is None:
                raise HTTPException(404, detail=f"no area {area_id!r} in the plan")
            if area.action(action_id) is None:
                raise HTTPException(404, detail=f"no action {action_id!r} in area {area_id!r}")
            updated_on = body.updated_on or await ctx.clock.today(conn) or date.today()
            envelope = await report_milestone(
                conn, ctx, area_id=area_id, action_id=action_id, status=body.status, updated_by=principal.principal,
                updated_on=updated_on, note=body.note,
            )
        return {"event_id": str(envelope.event_id), "status": body.status.value, "updated_on": updated_on.isoformat()}

    @router.get("/milestones", summary="Milestone progress reported, with notes")
    async def milestones(request: Request, area_id: str | None = None,
                         _: Principal = Depends(require_role("qa-admin", "action-owner", "board"))) -> list[dict[str, Any]]:
        async with request.app.state.pool.acquire() as conn:
            return await repository.milestone_log(conn, area_id)

    # -- drift -----------------------------------------------------------------------------------------

    @router.get("/status", summary="Each area's status and explanation as of a date (default: the clock's today)")
    async def get_status(request: Request, as_of: date | None = Query(default=None),
                         _: Principal = Depends(require_role(*READERS))) -> dict[str, Any]:
        ctx = _ctx(request)
        async with request.app.state.pool.acquire() as conn:
            as_of = as_of or await ctx.clock.today(conn)
            if as_of is None:
                raise HTTPException(409, detail="no event time yet: give as_of")
            return evaluation_json(await evaluate_as_of(conn, ctx, as_of))

    @router.get("/drift", summary="Flags raised and cleared, and what is in drift now")
    async def get_drift(request: Request, after: date | None = None, until: date | None = None,
                        _: Principal = Depends(require_role(*READERS))) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            events = await repository.drift_events(conn, after, until)
            active = await repository.active_findings(conn)
        return {
            "events": events,
            "active": [{"area_id": a, "kind": k, "subject_id": s} for (a, k, s) in sorted(active)],
        }

    # -- digests ---------------------------------------------------------------------------------------

    @router.post("/digests", summary="Produce the Board digest as of a date (sent once per period unless forced)")
    async def post_digest(body: DigestRequest, request: Request, response: Response,
                          _: Principal = Depends(require_role("qa-admin"))) -> dict[str, Any]:
        from qaf_actions.digest import issue_digest

        outcome = await issue_digest(request.app.state.pool, _ctx(request), as_of=body.as_of, period=body.period,
                                     force=body.force, send=body.send)
        response.status_code = 201 if outcome.issued else 200
        return {"digest_id": outcome.digest_id, "period": outcome.period, "issued": outcome.issued,
                "sent": outcome.sent, "summary": outcome.summary}

    @router.get("/digests", summary="Digests issued")
    async def list_digests(request: Request, _: Principal = Depends(require_role("board", "qa-admin"))) -> list[dict[str, Any]]:
        async with request.app.state.pool.acquire() as conn:
            return await repository.digest_list(conn)

    async def _document(request: Request, digest_id: str) -> Any:
        async with request.app.state.pool.acquire() as conn:
            row = await repository.digest_document(conn, digest_id)
        if row is None:
            raise HTTPException(404, detail=f"no digest {digest_id!r}")
        return row

    @router.get("/digests/{digest_id}.pdf", summary="A digest as PDF")
    async def digest_pdf(digest_id: str, request: Request,
                         _: Principal = Depends(require_role("board", "qa-admin"))) -> Response:
        row = await _document(request, digest_id)
        return Response(bytes(row["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{digest_id}.pdf"'})

    @router.get("/digests/{digest_id}.html", summary="A digest as HTML")
    async def digest_html(digest_id: str, request: Request,
                          _: Principal = Depends(require_role("board", "qa-admin"))) -> Response:
        row = await _document(request, digest_id)
        return Response(row["html"], media_type="text/html")

    return router
