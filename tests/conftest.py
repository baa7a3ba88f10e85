"""Shared fixtures. Integration tests get a real broker and a real server, isolated per test by a
fresh database and a fresh topic prefix, so tests never see each other's events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from qaf_shared import contracts  # noqa: F401
from qaf_shared.settings import KafkaSettings
from qaf_devstack.ephemeral import ephemeral_kafka, ephemeral_postgres


@pytest.fixture
def service_logs() -> Iterator[None]:
    """Logging as a served service has it (JSON, INFO), whatever an earlier in-process CLI call set."""
    import logging

    import structlog

    from qaf_shared.logging import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("test", "INFO")
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with ephemeral_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    with ephemeral_postgres() as url:
        yield url


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
async def database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh database for one test; dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(pg_admin_url, name)
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def topic_prefix() -> str:
    return "t" + uuid.uuid4().hex[:10] + "."


@pytest.fixture
async def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaSettings]:
    yield KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    # Each test makes ~18 topics; deleting them keeps one broker quick for the whole session.
    from tests.support.kafka import delete_topics

    try:
        await delete_topics(kafka_bootstrap, topic_prefix)
    except Exception:  # a test that broke the broker on purpose must not fail here too
        pass


async def eventually(check: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.2) -> object:
    """Poll `check` (sync or async) until it returns something truthy; fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: object = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.support import reliability

    reliability.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A fault test's outcome goes on the reliability page, a failure in place of any earlier figure."""
    from tests.support import reliability

    outcome = yield
    report = outcome.get_result()
    if not reliability.is_fault_test(item.nodeid):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        reliability.record_outcome(item.nodeid, report.outcome, report.longreprtext if report.failed else None)
