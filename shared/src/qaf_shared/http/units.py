"""The unit of work an HTTP request runs its use case in, as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import asyncpg
from fastapi import Request

from qaf_shared.unit_of_work import PostgresUnitOfWork

R = TypeVar("R")


def unit_of_work(repository: Callable[[asyncpg.Connection], R]) -> Callable[[Request], PostgresUnitOfWork[R]]:
    """`Depends(unit_of_work(Repository))`: a fresh unit of work on the service's pool for each request."""

    def dependency(request: Request) -> PostgresUnitOfWork[R]:
        return PostgresUnitOfWork(request.app.state.pool, repository)

    return dependency
