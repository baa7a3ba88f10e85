"""HTTP API of the allocation service. Roster changes and runs need role qa-admin; reading needs
qa-admin, reporting or lead-auditor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qaf_shared.envelope import OPAQUE_ID_PATTERN, Month, OpaqueId
from qaf_shared.http import Principal, require_role
from qaf_shared.vocabulary import Service

from qaf_allocation import application as app
from qaf_allocation.adapters import postgres as repo
from qaf_allocation.domain.model import Absence, Auditor, DomainError, IllegalChange, InvalidInput, UnknownEntity

ADMIN = require_role("qa-admin")
READ = require_role("qa-admin", "reporting", "lead-auditor")
AuditorId = Annotated[str, Path(pattern=OPAQUE_ID_PATTERN, description="Opaque id of the auditor (a manager).")]

T = TypeVar("T")


class AbsenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _order(self) -> AbsenceIn:
        if self.ends_on < self.starts_on:
            raise ValueError(f"ends_on {self.ends_on} is before starts_on {self.starts_on}")
        return self


class AuditorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: Service
    manages_teams: list[OpaqueId] = Field(default_factory=list, description="Teams this manager manages.")
    is_lead: bool = Field(default=False, description="The lead auditor of their service (one per service).")
    capacity: int = Field(default=2, ge=0, le=100, description="Audits a month they can take.")
    absences: list[AbsenceIn] = Field(default_factory=list)
    active: bool = True

    def to_domain(self, auditor_id: str) -> Auditor:
        return Auditor(auditor_id, self.service, frozenset(self.manages_teams), self.is_lead, self.capacity,
                       tuple(Absence(a.starts_on, a.ends_on) for a in self.absences), self.active)


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auditor_id: OpaqueId


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Month
    as_of: date = Field(description="The date the draw is made as of: drives the population and availability.")
    seed: int | None = Field(default=None, ge=0, lt=2**63, description="Replay a draw; recorded either way.")
    redraw: bool = Field(default=False, description="Supersede the month's existing draw (recorded).")


@asynccontextmanager
async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    try:
        async with request.app.state.pool.acquire() as conn:
            yield conn
    except InvalidInput as exc:
        detail = [{"loc": ["body", exc.field] if exc.field else ["body"], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(422, detail=detail) from None
    except UnknownEntity as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except IllegalChange as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except asyncpg.UniqueViolationError as exc:  # a concurrent change won the race
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"conflicting change: {exc.detail or exc}") from None
    except DomainError as exc:
        raise HTTPException(422, detail=str(exc)) from None


async def _with(request: Request, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async with _connection(request) as conn:
        return await work(conn)


def build_router(ctx: app.Context) -> APIRouter:
    """The service's routes, bound to its context (settings and clock)."""
    router = APIRouter(prefix="/allocation", tags=["allocation"])


    # ------------------------------------------------------------------ roster


    @router.get("/roster", summary="The auditor roster")
    async def list_roster(request: Request, _: Principal = Depends(READ)) -> dict[str, Any]:
        auditors = await _with(request, repo.roster)
        return {"auditors": [repo.auditor_dict(a) for a in auditors]}


    @router.get("/roster/{auditor_id}", summary="One auditor")
    async def get_auditor(request: Request, auditor_id: AuditorId, _: Principal = Depends(READ)) -> dict[str, Any]:
        auditor = await _with(request, lambda conn: app.get_auditor(conn, auditor_id))
        return repo.auditor_dict(auditor)


    @router.put("/roster/{auditor_id}", summary="Add or replace an auditor; their open audits move if they "
                "are no longer available for them")
    async def put_auditor(
        request: Request, response: Response, auditor_id: AuditorId, body: AuditorIn,
        as_of: Annotated[date | None, Query(description="When the change takes effect (default: when a new "
                                            "absence starts, else today).")] = None,
        _: Principal = Depends(ADMIN),
    ) -> dict[str, Any]:
        try:
            auditor = body.to_domain(auditor_id)
        except DomainError as exc:
            raise HTTPException(422, detail=[{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]) from None
        outcome = await _with(request, lambda conn: app.put_auditor(conn, ctx, auditor, as_of))
        response.status_code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return outcome.as_dict()


    @router.post("/roster/{auditor_id}/absences", status_code=200,
                 summary="Record an absence; open audits falling due in it move to other auditors")
    async def add_absence(request: Request, auditor_id: AuditorId, body: AbsenceIn,
                          _: Principal = Depends(ADMIN)) -> dict[str, Any]:
        absence = Absence(body.starts_on, body.ends_on)
        outcome = await _with(request, lambda conn: app.add_absence(conn, ctx, auditor_id, absence))
        return outcome.as_dict()


    @router.delete("/roster/{auditor_id}", summary="Take an auditor off the roster (kept for history); their "
                   "open audits move to others")
    async def remove_auditor(
        request: Request, auditor_id: AuditorId,
        as_of: Annotated[date | None, Query(description="When they leave (default: today).")] = None,
        _: Principal = Depends(ADMIN),
    ) -> dict[str, Any]:
        outcome = await _with(request, lambda conn: app.deactivate(conn, ctx, auditor_id, as_of))
        return outcome.as_dict()


    @router.put("/leads/{service}", summary="Make an auditor of the service its lead auditor")
    async def put_lead(request: Request, service: Service, body: LeadIn, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
        auditor = await _with(request, lambda conn: app.set_lead(conn, service, body.auditor_id))
        return repo.auditor_dict(auditor)


    # ------------------------------------------------------------------ runs


    @router.post("/runs", summary="Draw a month (once); with redraw, supersede the existing draw")
    async def run(request: Request, response: Response, body: Annotated[RunIn, Body()],
                  principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
        run_request = app.RunRequest(month=body.month, as_of=body.as_of, requested_by=principal.principal,
                                     trigger="api", seed=body.seed, redraw=body.redraw)

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            outcome = await app.run_month(conn, ctx, run_request)
            view = await app.month_view(conn, body.month)
            view["created"] = outcome.created
            return view

        view = await _with(request, work)
        response.status_code = status.HTTP_201_CREATED if view["created"] else status.HTTP_200_OK
        return view


    @router.get("/months/{month}", summary="A month's allocations, with explanations, shortfall and draw history")
    async def get_month(request: Request, month: Annotated[str, Path(description="YYYY-MM")],
                        _: Principal = Depends(READ)) -> dict[str, Any]:
        return await _with(request, lambda conn: app.month_view(conn, month))


    @router.get("/target", summary="Allocations and completions for the year against the 450-500 target, by service")
    async def get_target(
        request: Request,
        year: Annotated[int, Query(ge=2000, le=2100, description="The year the target year starts in (2013 = 2013-14).")],
        _: Principal = Depends(READ),
    ) -> dict[str, Any]:
        return await _with(request, lambda conn: app.target_view(conn, ctx, year))


    @router.get("/population", summary="Cases open in the window to a date, by service")
    async def get_population(request: Request, as_of: Annotated[date, Query()],
                             _: Principal = Depends(READ)) -> dict[str, Any]:
        return await _with(request, lambda conn: app.population_view(conn, ctx, as_of))

    return router
