"""Every service has the same rooms, so whoever knows one knows all (the floor plan in README.md).

services/<name>/src/qaf_<name>/
  app.py            the composition root: settings, clock and adapters wired into a ServiceDefinition
  settings.py       the service's settings
  handlers.py       inbound from Kafka: thin handlers, each typed by the payload it takes
  usecases.py       the use-case layer: every operation, over a unit of work, no SQL
  views.py          what the HTTP API returns (pydantic models: the OpenAPI documents describe it)
  domain/           pure rules: no I/O, no database, no web framework
  entrypoints/      inbound: http.py (build_router), and cli.py, scheduler.py where the service has them
  adapters/         outbound: repository.py (class Repository over a connection), mail, rendering, ...
  migrations/       dbmate SQL
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["allocation", "audits", "escalations", "reporting", "actions"]
REQUIRED = ["__init__.py", "app.py", "settings.py", "handlers.py", "usecases.py", "views.py", "domain/__init__.py",
            "entrypoints/__init__.py", "entrypoints/http.py", "adapters/__init__.py", "adapters/repository.py",
            "migrations"]
TOP_LEVEL = {"__init__.py", "app.py", "settings.py", "handlers.py", "usecases.py", "views.py"}
INBOUND = {"http.py", "cli.py", "scheduler.py", "replay.py", "__init__.py"}
SQL_CALLS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table", "cursor"}


def package(service: str) -> Path:
    return ROOT / "services" / service / "src" / f"qaf_{service}"


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def sql_calls(path: Path) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            calls.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
    return calls


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service: str) -> None:
    root = package(service)
    missing = [room for room in REQUIRED if not (root / room).exists()]
    assert not missing, f"{service} lacks {missing}"
    extra = sorted(p.name for p in root.glob("*.py") if p.name not in TOP_LEVEL)
    assert not extra, f"{service} has top-level modules outside the floor plan: {extra}"
    inbound = sorted(p.name for p in (root / "entrypoints").glob("*.py") if p.name not in INBOUND)
    assert not inbound, f"{service}'s entrypoints/ holds more than http, cli and scheduler: {inbound}"
    tree = ast.parse((root / "entrypoints" / "http.py").read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "build_router" for n in tree.body), (
        f"{service}'s router is built by build_router(...), as in every service")
    tree = ast.parse((root / "adapters" / "repository.py").read_text())
    assert any(isinstance(n, ast.ClassDef) and n.name == "Repository" for n in tree.body), (
        f"{service}'s repository is a Repository class over a connection, as in every service")


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_is_pure(service: str) -> None:
    own = f"qaf_{service}"
    for path in modules(package(service) / "domain"):
        bad = {name for name in imported(path)
               if name.split(".")[0] in {"asyncpg", "fastapi", "aiokafka", "faststream", "httpx", "starlette"}
               or name.startswith((f"{own}.adapters", f"{own}.entrypoints", f"{own}.usecases", f"{own}.handlers"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        assert not sql_calls(path), sql_calls(path)


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_and_handlers_hold_no_sql_and_arrows_point_one_way(service: str) -> None:
    root = package(service)
    own = f"qaf_{service}"
    for name in ("usecases.py", "handlers.py"):
        assert not sql_calls(root / name), f"SQL belongs in adapters/repository.py: {sql_calls(root / name)}"
    for path in modules(root / "adapters"):
        back = {n for n in imported(path) if n.startswith((f"{own}.entrypoints", f"{own}.usecases", f"{own}.handlers",
                                                            f"{own}.app"))}
        assert not back, f"an outbound adapter calls inward: {path.relative_to(ROOT)} imports {sorted(back)}"
    inward = {n for n in imported(root / "usecases.py") if n.startswith((f"{own}.entrypoints", f"{own}.handlers",
                                                                         f"{own}.app"))}
    assert not inward, f"use cases do not know their callers: {sorted(inward)}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_documents_what_it_returns(service: str) -> None:
    import importlib

    from qaf_shared.runtime import ServiceRuntime

    definition = importlib.import_module(f"qaf_{service}.app").definition()
    document = ServiceRuntime(definition).http_app().openapi()
    undocumented = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ok = [code for code in operation["responses"] if code.startswith("2")]
            assert ok, f"{method.upper()} {path} declares no success response"
            for code in ok:
                content = operation["responses"][code].get("content")
                if code == "204" or content is None:
                    continue
                for media, body in content.items():
                    if media == "application/json" and not typed(body.get("schema", {})):
                        undocumented.append(f"{method.upper()} {path} ({code})")
    assert not undocumented, f"{service}: endpoints without a response schema: {undocumented}"


def typed(schema: dict) -> bool:
    """A schema that says what comes back: a model, or a list or map of them, not a bare object."""
    if "$ref" in schema:
        return True
    if "anyOf" in schema or "oneOf" in schema:
        return all(typed(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if schema.get("type") == "array":
        return typed(schema.get("items", {}))
    if schema.get("type") == "object":
        extra = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(extra, dict) and typed(extra))
    return schema.get("type") in {"string", "integer", "number", "boolean", "null"}
