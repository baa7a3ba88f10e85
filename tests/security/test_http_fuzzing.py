"""Schemathesis against every service's OpenAPI document, over real HTTP to the running services (real
PostgreSQL and Kafka), with a qa-admin token: valid and invalid requests alike get no 5xx, and every
4xx says what is wrong. QAF_FAULTS_FULL=1 (make faults) runs many more examples per operation."""

from __future__ import annotations

import asyncio

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

from tests.security.conftest import SERVICES, Platform
from tests.support import reliability

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")]


def fuzz(schema_doc: dict, url: str, headers: dict[str, str], examples: int) -> tuple[int, list[str]]:
    """Runs in a worker thread (schemathesis calls are blocking; the services serve on the test's loop)."""
    schema = schemathesis.openapi.from_dict(schema_doc)
    problems: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                nonlocal calls
                response = case.call(base_url=url, headers=headers, timeout=60)
                calls += 1
                code = response.status_code
                where = f"{case.method} {case.formatted_path} {case.query or ''} {str(case.body)[:150]}"
                if code >= 500:
                    seen.append(f"{code} from {where}: {response.text[:300]}")
                elif 400 <= code < 500:
                    try:
                        detail = response.json().get("detail")
                    except Exception:
                        detail = None
                    if not detail:
                        seen.append(f"{code} without a detail from {where}: {response.text[:300]}")

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                pass  # no invalid input exists for this operation (e.g. no parameters)
            problems += seen[:3]
    return calls, problems


@pytest.mark.parametrize("service", SERVICES)
async def test_fuzzed_requests_get_no_5xx_and_every_4xx_says_what_is_wrong(
    platform: Platform, service: str, full: bool
) -> None:
    served = platform.services[service]
    async with httpx.AsyncClient(base_url=served.url) as http:
        spec = (await http.get("/openapi.json")).json()
    examples = 100 if full else 4
    calls, problems = await asyncio.to_thread(fuzz, spec, served.url, served.auth("qa-admin"), examples)
    assert not problems, "\n".join(problems)
    reliability.record(
        f"HTTP fuzzing: {service}",
        f"Schemathesis, valid and invalid requests for every operation of {service}'s OpenAPI document, "
        "qa-admin token, real database and broker.",
        paths=len(spec["paths"]), requests=calls, examples_per_operation_and_mode=examples,
        responses_5xx=0, responses_4xx_without_detail=0,
    )
