"""The PostgreSQL unit of work on the real database: the change and its events commit together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from qaf_shared.contracts.examples import EXAMPLES
from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.envelope import new_envelope
from qaf_shared.unit_of_work import PostgresUnitOfWork
from tests.support.probe import MIGRATIONS

pytestmark = pytest.mark.integration


class Applications:
    """A repository as every service writes one: a class over the connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, key: str) -> None:
        await self.conn.execute("INSERT INTO applications (key, times) VALUES ($1, 1)", key)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    url = await migrate_service(database_url, "probe", "probe-password", MIGRATIONS)
    pool = await connect_pool(url, "probe")
    yield pool
    await pool.close()


async def test_a_commit_writes_the_change_and_its_events_and_anything_else_writes_neither(pool: asyncpg.Pool) -> None:
    committed = new_envelope(EXAMPLES["case-opened"], source="probe")
    async with PostgresUnitOfWork(pool, Applications) as uow:
        await uow.repository.add("C-COMMITTED")
        uow.emit(committed)
        await uow.commit()
    async with PostgresUnitOfWork(pool, Applications) as uow:
        await uow.repository.add("C-LEFT")
        uow.emit(new_envelope(EXAMPLES["case-opened"], source="probe"))
    with pytest.raises(ValueError):
        async with PostgresUnitOfWork(pool, Applications) as uow:
            await uow.repository.add("C-FAILED")
            uow.emit(new_envelope(EXAMPLES["case-opened"], source="probe"))
            raise ValueError("the use case refused")
    assert [r["key"] for r in await pool.fetch("SELECT key FROM applications")] == ["C-COMMITTED"]
    assert [r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox")] == [committed.event_id]
    assert pool.get_idle_size() == pool.get_size(), "every connection went back to the pool"


async def test_a_joined_unit_of_work_lives_in_the_callers_transaction(pool: asyncpg.Pool) -> None:
    event = new_envelope(EXAMPLES["case-opened"], source="probe")
    with pytest.raises(RuntimeError, match="rolled back by the caller"):
        async with pool.acquire() as conn, conn.transaction():
            async with PostgresUnitOfWork.joined(conn, Applications) as uow:
                await uow.repository.add("C-JOINED")
                uow.emit(event)
                await uow.commit()
            raise RuntimeError("rolled back by the caller")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await pool.fetchval("SELECT count(*) FROM applications") == 0
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(RuntimeError, match="without commit"):
            async with PostgresUnitOfWork.joined(conn, Applications) as uow:
                uow.emit(event)
