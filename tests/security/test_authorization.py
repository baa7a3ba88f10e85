"""Every role against every endpoint of every running service, as docs/authorization.md says; and
the object-level rules the table cannot show."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import httpx
import pytest

from qaf_shared.contracts import CaseOpened
from qaf_shared.envelope import new_envelope
from qaf_shared.http.auth import ROLES
from qaf_shared.vocabulary import LegalStatus, Service
from tests.conftest import eventually
from tests.integration.audits.test_audits_service import allocated, form
from tests.security.conftest import SERVICES, Platform
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"
OPERATIONS = {"/health", "/ready", "/metrics"}  # open to all: probes and scraping
PATH_VALUES = {"month": "2013-10", "period_end": "2013-10", "report": "monthly", "service": "first-response",
               "version": "1"}


def matrix() -> dict[tuple[str, str, str], set[str]]:
    """(service, method, path) → roles allowed, parsed from the table in docs/authorization.md."""
    text = DOC.read_text()
    block = text.split("<!-- authorization-matrix:start -->")[1].split("<!-- authorization-matrix:end -->")[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    roles = header[2:]
    assert set(roles) == ROLES, "the table has a column for every role, and only roles"
    table = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        method, path = cells[1].strip("`").split(" ", 1)
        assert cells[0] in SERVICES and all(c in ("✓", "·") for c in cells[2:]), line
        table[(cells[0], method, path)] = {role for role, cell in zip(roles, cells[2:], strict=True) if cell == "✓"}
    return table


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "X-1"), path)


async def endpoints(platform: Platform, service: str) -> set[tuple[str, str, str]]:
    async with httpx.AsyncClient(base_url=platform.services[service].url) as http:
        spec = (await http.get("/openapi.json")).json()
    return {(service, method.upper(), path) for path, item in spec["paths"].items() if path not in OPERATIONS
            for method in item if method in ("get", "post", "put", "patch", "delete")}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_role_on_every_endpoint_is_admitted_or_refused_as_the_table_says(
    platform: Platform, service: str
) -> None:
    table = {key: roles for key, roles in matrix().items() if key[0] == service}
    assert await endpoints(platform, service) == set(table), "the table lists exactly the service's endpoints"
    served = platform.services[service]
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as http:
        for (_, method, path), allowed in sorted(table.items()):
            url = concrete(path)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            anonymous = await http.request(method, url, json=body)
            if anonymous.status_code != 401:
                wrong.append(f"{method} {path} without a token: {anonymous.status_code}")
            forged = await http.request(method, url, json=body, headers={"Authorization": "Bearer qaf_forged"})
            if forged.status_code != 401:
                wrong.append(f"{method} {path} with an unknown token: {forged.status_code}")
            for role in sorted(ROLES):
                response = await http.request(method, url, json=body, headers=served.auth(role))
                admitted = response.status_code not in (401, 403)
                if response.status_code >= 500 or admitted != (role in allowed):
                    wrong.append(f"{method} {path} as {role}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_reporting_tokens_are_read_only_and_only_qa_admin_changes_roster_templates_and_plan() -> None:
    table = matrix()
    assert all(method == "GET" for (_, method, _), roles in table.items() if "reporting" in roles)
    changes = {key: roles for key, roles in table.items() if key[1] != "GET" and (
        key[2].startswith(("/allocation/roster", "/allocation/leads", "/templates"))
        or re.fullmatch(r"/actions/plan/areas/\{area_id\}(/indicators/\{indicator_id\})?", key[2]))}
    assert len(changes) >= 7, sorted(changes)
    assert all(roles == {"qa-admin"} for roles in changes.values()), changes
    assert table[("allocation", "POST", "/allocation/runs")] == {"qa-admin"}


async def test_an_auditor_cannot_submit_another_auditors_audit(platform: Platform) -> None:
    audits = platform.services["audits"]
    await produce(platform.kafka, allocated("A-SEC-1", auditor="AUD-1"))
    await eventually(lambda: audits.runtime.pool.fetchval("SELECT count(*) = 1 FROM audits WHERE audit_id = 'A-SEC-1'"))
    other = await audits.token("AUD-2", "auditor")
    other_lead = await audits.token("LEAD-OTHER", "lead-auditor")
    async with httpx.AsyncClient(base_url=audits.url, timeout=60) as http:
        url = "/audits/A-SEC-1/submission"
        for headers in (other, other_lead):
            refused = await http.post(url, json=form(), headers=headers)
            assert refused.status_code == 403 and refused.json()["detail"], refused.text
            assert (await http.get("/audits/A-SEC-1", headers=headers)).status_code == 403
        assert (await http.get("/audits/A-SEC-1", headers=audits.auth("auditor"))).json()["status"] == "pending"
        accepted = await http.post(url, json=form(), headers=audits.auth("auditor"))  # principal AUD-1
        assert accepted.status_code == 201, accepted.text


async def test_a_case_system_token_cannot_publish_for_another_service(platform: Platform) -> None:
    allocation = platform.services["allocation"]

    def opened(case_id: str, service: Service) -> dict:
        return new_envelope(
            CaseOpened(case_id=case_id, service=service, team_id="T-1", worker_id="W-1", team_manager_id="M-1",
                       legal_status=LegalStatus.CHILD_IN_NEED, opened_on=date(2013, 5, 1)),
            source="case-system",
        ).model_dump(mode="json")

    first_response = allocation.auth("case-system")  # principal first-response
    async with httpx.AsyncClient(base_url=allocation.url, timeout=60) as http:
        foreign = [opened("C-SEC-1", Service.FIRST_RESPONSE), opened("C-SEC-2", Service.CHILDREN_IN_CARE)]
        refused = await http.post("/intake/events", json=foreign, headers=first_response)
        assert refused.status_code == 403 and "children-in-care" in str(refused.json()["detail"]), refused.text
        own = await http.post("/intake/events", json=[opened("C-SEC-3", Service.FIRST_RESPONSE)],
                              headers=first_response)
        assert own.status_code == 202, own.text
    pending = await allocation.runtime.pool.fetch("SELECT key FROM outbox")
    assert {row["key"] for row in pending} >= {"C-SEC-3"} and not {"C-SEC-1", "C-SEC-2"} & {
        row["key"] for row in pending}, "a refused batch keeps nothing"
