"""HTTP intake: a case system posts event envelopes; each is checked against its contract and
published through the service's outbox, so nothing accepted is lost and nothing refused is half-kept.

A batch is all-or-nothing: one invalid envelope refuses the whole request with a reason per item.
An envelope posted twice (same event_id) is accepted once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import asyncpg

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from pydantic import BaseModel

from qaf_shared.envelope import ContractViolation, Envelope, decode
from qaf_shared.http.auth import Principal, require_role
from qaf_shared.kafka.outbox import enqueue

MAX_BATCH = 1000


class IntakeReceipt(BaseModel):
    accepted: int
    event_ids: list[str]


# For an event whose payload names no service (e.g. case-closed): the service that owns its entity,
# as the hosting service knows it, or None when it does not know the entity.
OwnerLookup = Callable[[asyncpg.Connection, Envelope[Any]], Awaitable[str | None]]


def intake_router(
    accepted_event_types: Collection[str], *, owner_of: OwnerLookup | None = None, tag: str = "intake"
) -> APIRouter:
    router = APIRouter(tags=[tag])
    accepted = frozenset(accepted_event_types)

    @router.post(
        "/intake/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=IntakeReceipt,
        summary="Publish events from a case system (one envelope or a list of up to 1000)",
        description=(
            "Role `case-system`; the token's principal is the service code the case system belongs to "
            "(e.g. `first-response`): it may publish only events whose payload names that service. "
            f"Accepted event types: {', '.join(sorted(accepted))}."
        ),
    )
    async def publish(
        request: Request,
        body: Any = Body(..., description="An event envelope, or a JSON list of them"),
        principal: Principal = Depends(require_role("case-system", "qa-admin")),
    ) -> IntakeReceipt:
        items = body if isinstance(body, list) else [body]
        if not items:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="no events in the request")
        if len(items) > MAX_BATCH:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=f"at most {MAX_BATCH} events a request")
        envelopes, problems = [], []
        for index, item in enumerate(items):
            try:
                envelope = decode(orjson.dumps(item))
            except ContractViolation as exc:
                problems.append({"index": index, "error": str(exc)})
                continue
            if envelope.event_type not in accepted:
                problems.append({"index": index, "error": f"{envelope.event_type} is not taken here; "
                                 f"this intake takes {', '.join(sorted(accepted))}"})
                continue
            envelopes.append(envelope)
        if problems:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problems)
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            if principal.role == "case-system":
                for index, envelope in enumerate(envelopes):
                    service = getattr(envelope.payload, "service", None)
                    if service is None and owner_of is not None:
                        service = await owner_of(conn, envelope)
                    if service is not None and str(service) != principal.principal:
                        raise HTTPException(
                            status.HTTP_403_FORBIDDEN,
                            detail=f"event {index} is for service {service}; this token publishes for "
                            f"{principal.principal} only",
                        )
            await enqueue(conn, *envelopes)
        return IntakeReceipt(accepted=len(envelopes), event_ids=[str(e.event_id) for e in envelopes])

    return router
