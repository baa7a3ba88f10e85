"""HTTP API of the allocation service. Roster changes and runs need role qa-admin; reading needs
qa-admin, reporting or lead-auditor."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qaf_shared.envelope import OPAQUE_ID_PATTERN, Month, OpaqueId
from qaf_shared.http import Principal, require_role, unit_of_work
from qaf_shared.unit_of_work import PostgresUnitOfWork
from qaf_shared.vocabulary import Service

from qaf_allocation import usecases
from qaf_allocation.adapters.repository import Repository
from qaf_allocation.domain.model import Absence, Auditor
from qaf_allocation.views import (
    AuditorView,
    MonthView,
    PopulationView,
    RosterChangeView,
    RosterView,
    RunView,
    TargetView,
)

ADMIN = require_role("qa-admin")
READ = require_role("qa-admin", "reporting", "lead-auditor")
AuditorId = Annotated[str, Path(pattern=OPAQUE_ID_PATTERN, description="Opaque id of the auditor (a manager).")]


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


RequestUnitOfWork = Annotated[PostgresUnitOfWork[Repository], Depends(unit_of_work(Repository))]


def build_router(ctx: usecases.Context) -> APIRouter:
    """The service's routes, bound to its context (settings and clock)."""
    router = APIRouter(prefix="/allocation", tags=["allocation"])

    # ------------------------------------------------------------------ roster

    @router.get("/roster", summary="The auditor roster")
    async def list_roster(uow: RequestUnitOfWork, _: Principal = Depends(READ)) -> RosterView:
        return RosterView.of(await usecases.roster(uow))

    @router.get("/roster/{auditor_id}", summary="One auditor")
    async def get_auditor(uow: RequestUnitOfWork, auditor_id: AuditorId,
                          _: Principal = Depends(READ)) -> AuditorView:
        return AuditorView.of(await usecases.get_auditor(uow, auditor_id))

    @router.put("/roster/{auditor_id}", summary="Add or replace an auditor; their open audits move if they "
                "are no longer available for them", responses={201: {"model": RosterChangeView}})
    async def put_auditor(
        uow: RequestUnitOfWork, response: Response, auditor_id: AuditorId, body: AuditorIn,
        as_of: Annotated[date | None, Query(description="When the change takes effect (default: when a new "
                                            "absence starts, else today).")] = None,
        _: Principal = Depends(ADMIN),
    ) -> RosterChangeView:
        outcome = await usecases.put_auditor(uow, ctx, body.to_domain(auditor_id), as_of)
        response.status_code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return RosterChangeView.of(outcome)

    @router.post("/roster/{auditor_id}/absences", status_code=200,
                 summary="Record an absence; open audits falling due in it move to other auditors")
    async def add_absence(uow: RequestUnitOfWork, auditor_id: AuditorId, body: AbsenceIn,
                          _: Principal = Depends(ADMIN)) -> RosterChangeView:
        outcome = await usecases.add_absence(uow, auditor_id, Absence(body.starts_on, body.ends_on))
        return RosterChangeView.of(outcome)

    @router.delete("/roster/{auditor_id}", summary="Take an auditor off the roster (kept for history); their "
                   "open audits move to others")
    async def remove_auditor(
        uow: RequestUnitOfWork, auditor_id: AuditorId,
        as_of: Annotated[date | None, Query(description="When they leave (default: today).")] = None,
        _: Principal = Depends(ADMIN),
    ) -> RosterChangeView:
        return RosterChangeView.of(await usecases.deactivate(uow, ctx, auditor_id, as_of))

    @router.put("/leads/{service}", summary="Make an auditor of the service its lead auditor")
    async def put_lead(uow: RequestUnitOfWork, service: Service, body: LeadIn,
                       _: Principal = Depends(ADMIN)) -> AuditorView:
        return AuditorView.of(await usecases.set_lead(uow, service, body.auditor_id))

    # ------------------------------------------------------------------ runs

    @router.post("/runs", summary="Draw a month (once); with redraw, supersede the existing draw",
                 responses={201: {"model": RunView}})
    async def run(uow: RequestUnitOfWork, response: Response, body: Annotated[RunIn, Body()],
                  principal: Principal = Depends(ADMIN)) -> RunView:
        outcome = await usecases.run_month(uow, ctx, usecases.RunRequest(
            month=body.month, as_of=body.as_of, requested_by=principal.principal, trigger="api", seed=body.seed,
            redraw=body.redraw))
        response.status_code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return RunView.of_run(await usecases.drawn_month(uow, body.month), outcome.created)

    @router.get("/months/{month}", summary="A month's allocations, with explanations, shortfall and draw history")
    async def get_month(uow: RequestUnitOfWork, month: Annotated[str, Path(description="YYYY-MM")],
                        _: Principal = Depends(READ)) -> MonthView:
        return MonthView.of(await usecases.drawn_month(uow, month))

    @router.get("/target", summary="Allocations and completions for the year against the 450-500 target, by service")
    async def get_target(
        uow: RequestUnitOfWork,
        year: Annotated[int, Query(ge=2000, le=2100, description="The year the target year starts in (2013 = 2013-14).")],
        _: Principal = Depends(READ),
    ) -> TargetView:
        return TargetView.of(await usecases.target(uow, ctx, year))

    @router.get("/population", summary="Cases open in the window to a date, by service")
    async def get_population(uow: RequestUnitOfWork, as_of: Annotated[date, Query()],
                             _: Principal = Depends(READ)) -> PopulationView:
        return PopulationView.of(await usecases.population(uow, ctx, as_of))

    return router
