"""The case systems' intake on allocation: a team publishes for its own service only, closures included."""

from __future__ import annotations

from datetime import date

import pytest

from qaf_shared.contracts import CaseClosed, CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.settings import KafkaSettings
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.integration.allocation.support import allocation_definition
from tests.support.services import running

pytestmark = pytest.mark.integration


async def test_a_case_system_cannot_close_another_services_case(database_url: str, kafka_settings: KafkaSettings) -> None:
    async with running(allocation_definition(database_url, kafka_settings)) as service:
        first_response = await service.token("first-response", "case-system")
        children_in_care = await service.token("children-in-care", "case-system")
        opened = new_envelope(
            CaseOpened(case_id="C-FR-1", service=Service.FIRST_RESPONSE, team_id="T-FR-1", worker_id="W-1",
                       team_manager_id="M-1", legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
            source="case-system",
        ).model_dump(mode="json")
        assert (await service.http.post("/intake/events", json=opened, headers=first_response)).status_code == 202
        pool = service.runtime.pool
        await eventually(lambda: pool.fetchval("SELECT count(*) = 1 FROM cases WHERE case_id = 'C-FR-1'"))

        closed = new_envelope(CaseClosed(case_id="C-FR-1", closed_on=date(2013, 9, 1)),
                              source="case-system").model_dump(mode="json")
        refused = await service.http.post("/intake/events", json=closed, headers=children_in_care)
        assert refused.status_code == 403
        assert "first-response" in refused.json()["detail"]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'case-closed'") == 0
        accepted = await service.http.post("/intake/events", json=closed, headers=first_response)
        assert accepted.status_code == 202
