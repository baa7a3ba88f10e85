"""The Kubernetes manifests are valid, and each service has probes, resources and a migration job."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ["allocation", "audits", "escalations", "reporting", "actions"]


def _documents() -> list[dict]:
    documents = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return documents


@pytest.mark.parametrize("document", _documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(document: dict) -> None:
    kubernetes_validate.validate(document, "1.33", strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_probes_on_health_and_ready_resources_and_a_migration_job(service: str) -> None:
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in _documents()}
    deployment = by_kind[("Deployment", service)]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"]["limits"]["memory"]
    secrets = [e for e in container["env"] if "valueFrom" in e]
    assert {e["name"] for e in secrets} >= {"DATABASE_URL", f"QAF_{service.upper()}_DB_ROLE_PASSWORD"}
    job = by_kind[("Job", f"{service}-migrate")]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [f"qaf-{service}", "migrate"]
    assert ("Service", service) in by_kind


def test_every_service_image_is_built_from_the_one_template() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in SERVICES:
        build = compose["services"][service]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile" and build["args"]["SERVICE"] == service
    assert not list((ROOT / "services").glob("*/Dockerfile")), "no copy per service"
    template = (ROOT / "deploy" / "Dockerfile").read_text()
    assert 'uv sync --frozen --no-dev --package "qaf-$SERVICE"' in template
