"""The unit of work: one transaction around a use case, and the events it caused written with it.

A use case takes a unit of work, opens it (`async with uow:`), reads and changes state through
`uow.repository`, hands the events the domain returned to `uow.emit(...)`, and calls `await uow.commit()`.
At commit the events go to the outbox in the same transaction, so "lock, check, act, save, emit" is
written once, here. Leaving the block without committing (or with an exception) rolls everything back
and emits nothing.

- `PostgresUnitOfWork` opens its own transaction on a pooled connection (HTTP requests, CLI commands,
  schedulers).
- `PostgresUnitOfWork.joined(conn, ...)` works inside a transaction someone else holds: the idempotent
  consumer's, which records the event id in the same transaction; its commit only writes the outbox.
- `FakeUnitOfWork` holds an in-memory repository, for unit tests of use cases without PostgreSQL; what
  was committed is in `committed_events`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import asyncpg

from qaf_shared.envelope import Envelope
from qaf_shared.kafka.outbox import enqueue

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class UnitOfWork(Protocol[R_co]):
    @property
    def repository(self) -> R_co: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def emit(self, *events: Envelope[Any]) -> None:
        """Events to publish if, and only if, this unit of work commits."""

    async def commit(self) -> None: ...


class _Collecting(Generic[R]):
    _repository: R | None

    def __init__(self) -> None:
        self._events: list[Envelope[Any]] = []
        self._committed = False

    @property
    def repository(self) -> R:
        if self._repository is None:
            raise RuntimeError("open the unit of work first: async with uow")
        return self._repository

    def emit(self, *events: Envelope[Any]) -> None:
        self._events.extend(events)


class PostgresUnitOfWork(_Collecting[R]):
    def __init__(self, pool: asyncpg.Pool | None, repository: Callable[[asyncpg.Connection], R]) -> None:
        super().__init__()
        self._pool = pool
        self._make_repository = repository
        self._repository = None
        self._conn: asyncpg.Connection | None = None
        self._transaction: Any = None
        self._owns_transaction = True

    @classmethod
    def joined(cls, conn: asyncpg.Connection, repository: Callable[[asyncpg.Connection], R]) -> PostgresUnitOfWork[R]:
        """A unit of work inside the caller's transaction (the consumer's): its commit writes the outbox,
        the caller commits or rolls back the transaction."""
        uow = cls(None, repository)
        uow._conn = conn
        uow._owns_transaction = False
        return uow

    @property
    def connection(self) -> asyncpg.Connection:
        """For the outbound adapters of this unit of work (a repository of another aggregate)."""
        if self._conn is None:
            raise RuntimeError("open the unit of work first: async with uow")
        return self._conn

    async def __aenter__(self) -> Self:
        self._events, self._committed = [], False
        if self._owns_transaction:
            assert self._pool is not None
            self._conn = await self._pool.acquire()
            self._transaction = self._conn.transaction()
            try:
                await self._transaction.start()
            except BaseException:
                await self._pool.release(self._conn)
                raise
        self._repository = self._make_repository(self.connection)
        return self

    async def commit(self) -> None:
        await enqueue(self.connection, *self._events)
        if self._owns_transaction:
            await self._transaction.commit()
        self._committed = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._repository = None
        if not self._owns_transaction:
            if not self._committed and exc is None and self._events:
                # inside the consumer's transaction, events dropped on the floor would be lost for good
                raise RuntimeError("a joined unit of work emitted events and was left without commit")
            return
        try:
            if not self._committed:
                await self._transaction.rollback()
        finally:
            assert self._pool is not None and self._conn is not None
            await self._pool.release(self._conn)
            self._conn = None


class FakeUnitOfWork(_Collecting[R]):
    """In memory, for unit tests: the repository is whatever fake the test gives it."""

    def __init__(self, repository: R) -> None:
        super().__init__()
        self._repository = repository
        self._store = repository
        self.committed_events: list[Envelope[Any]] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._events, self._committed = [], False
        self._repository = self._store
        return self

    async def commit(self) -> None:
        self.committed_events.extend(self._events)
        self._events = []
        self._committed = True
        self.commits += 1

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._events = []  # uncommitted events are never published
