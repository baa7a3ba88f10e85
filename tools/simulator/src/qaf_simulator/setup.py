"""Operator set-up before a run: bearer tokens in each service's own token store, and the settings
that make the services follow simulated (event) time instead of the calendar."""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Iterable

from qaf_shared.db import connect_pool, migrate_service
from qaf_shared.http import TokenStore

from qaf_simulator.driver import Tokens

# Each service follows the simulated dates it is given, and nothing runs on the wall clock's own schedule.
EVENT_TIME_ENV: dict[str, str] = {
    "QAF_ALLOCATION_SCHEDULER_ENABLED": "false",  # the driver draws each month as of its first working day
    "QAF_AUDITS_CLOCK": "event",  # overdue as of the latest event time consumed
    "QAF_ESCALATIONS_OVERDUE_SWEEP_BASIS": "latest-event",
    "QAF_ACTIONS_CLOCK": "event",  # drift and "today" by event time
    "QAF_ACTIONS_SCHEDULE_ENABLED": "false",  # the driver asks for the year's digest itself
}
SERVICES = ("allocation", "audits", "escalations", "reporting", "actions")


async def create_tokens(database_url: str, needed: Iterable[tuple[str, str, str]]) -> Tokens:
    """Tokens for (service, role, principal), written with each service's TokenStore in its schema
    (what `qaf-<service> tokens create` does). The schemas must exist (services migrated)."""
    by_service: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for service, role, principal in sorted(set(needed)):
        by_service[service].append((role, principal))
    tokens: Tokens = {}
    for service, wanted in by_service.items():
        app = importlib.import_module(f"qaf_{service}.app")
        definition = app.definition()
        settings = definition.settings.model_copy(update={"database_url": database_url})
        url = await migrate_service(database_url, definition.name, settings.db_role_password.get_secret_value(),
                                    definition.migrations_dir)
        pool = await connect_pool(url, definition.name)
        try:
            store = TokenStore(pool)
            for role, principal in wanted:
                _, token = await store.create(principal, role)
                tokens[(service, role, principal)] = token
        finally:
            await pool.close()
    return tokens
