"""The configuration reference, generated from the settings models in code.

Walks `KafkaSettings`, the shared `ServiceSettings` and every service's own settings class
(`qaf_<service>.settings`), and renders, per setting, its environment variable, type, default and
description as Markdown. The rendered block lives in `docs/operating.md` between two markers:

    uv run python -m qaf_devstack.settings_doc           # print the reference
    uv run python -m qaf_devstack.settings_doc --write   # rewrite the block in docs/operating.md
    uv run python -m qaf_devstack.settings_doc --check   # exit 1 when the committed page is stale

(`make docs` runs `--write`; a test fails when the page is stale.)
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import sys
import types
import typing
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from qaf_shared.settings import DEFAULT_DATABASE_URL, KafkaSettings, ServiceSettings

from qaf_devstack.paths import ROOT
from qaf_devstack.stack import SERVICES

PAGE = ROOT / "docs" / "operating.md"
BEGIN = "<!-- BEGIN GENERATED: configuration reference (uv run python -m qaf_devstack.settings_doc --write) -->"
END = "<!-- END GENERATED: configuration reference -->"


def service_settings_classes() -> dict[str, type[ServiceSettings]]:
    """The settings class of every service the stack runs, found in `qaf_<service>.settings`."""
    found: dict[str, type[ServiceSettings]] = {}
    for name in SERVICES:
        module = importlib.import_module(f"qaf_{name}.settings")
        classes = [
            obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, ServiceSettings) and obj is not ServiceSettings
            and obj.__module__ == module.__name__
        ]
        if len(classes) != 1:
            raise LookupError(f"qaf_{name}.settings should define one ServiceSettings subclass, found {classes}")
        found[name] = classes[0]
    return found


def env_prefix(model: type[BaseModel]) -> str:
    return str(model.model_config.get("env_prefix", "")).upper()


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        rendered = " \\| ".join(type_name(a) for a in parts)
        return f"{rendered} (optional)" if len(parts) < len(args) else rendered
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_name(args[0])} (JSON)" if args else "list (JSON)"
    if origin is dict:
        return f"map {type_name(args[0])} → {type_name(args[1])} (JSON)"
    if annotation is SecretStr:
        return "secret"
    if annotation is Path:
        return "path"
    if annotation is date:
        return "date (YYYY-MM-DD)"
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    if inspect.isclass(annotation):
        return annotation.__name__
    return str(annotation)


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "(a development default: set it)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(unset)"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, (list, dict)):
        import json

        return f"`{json.dumps(value, default=str)}`"
    return f"`{value}`"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _rows(model: type[BaseModel], prefix: str, names: list[str]) -> list[str]:
    lines = ["| variable | type | default | what it does |", "|---|---|---|---|"]
    for name in names:
        field = model.model_fields[name]
        description = field.description
        if name == "database_url" and issubclass(model, ServiceSettings):
            description = f"{description} The embedded default is `{DEFAULT_DATABASE_URL}`."
        lines.append(
            f"| `{prefix}{name.upper()}` | {type_name(field.annotation)} | {default_text(field)} | {_cell(description)} |"
        )
    return lines


def undocumented() -> list[str]:
    """Settings without a description: the reference would leave them unexplained."""
    missing = [f"KafkaSettings.{n}" for n, f in KafkaSettings.model_fields.items() if not f.description]
    missing += [f"ServiceSettings.{n}" for n, f in ServiceSettings.model_fields.items()
                if n != "kafka" and not f.description]
    for cls in service_settings_classes().values():
        missing += [f"{cls.__name__}.{n}" for n, f in cls.model_fields.items()
                    if n not in ServiceSettings.model_fields and not f.description]
    return missing


def render() -> str:
    classes = service_settings_classes()
    out: list[str] = [
        "### Kafka (every service)",
        "",
        "Read from `KAFKA_*` by every service; one service can be pointed elsewhere with "
        "`QAF_<SERVICE>_KAFKA__<NAME>` (e.g. `QAF_REPORTING_KAFKA__BOOTSTRAP_SERVERS`).",
        "",
        *_rows(KafkaSettings, env_prefix(KafkaSettings), [n for n in KafkaSettings.model_fields]),
        "",
        "### Every service",
        "",
        "Each service reads these with its own prefix: "
        + ", ".join(f"`{env_prefix(cls)}`" for cls in classes.values())
        + ". `DATABASE_URL` (no prefix) applies to every service that has no `QAF_<SERVICE>_DATABASE_URL`.",
        "",
        *_rows(ServiceSettings, "QAF_<SERVICE>_", [n for n in ServiceSettings.model_fields if n != "kafka"]),
        "",
    ]
    for name, cls in classes.items():
        prefix = env_prefix(cls)
        own = [n for n in cls.model_fields if n not in ServiceSettings.model_fields]
        overridden = [
            n for n in ServiceSettings.model_fields
            if n != "kafka" and cls.model_fields[n].default != ServiceSettings.model_fields[n].default
        ]
        out += [f"### {name} (`{prefix}`)", ""]
        if overridden:
            out.append(
                "Defaults of its own: "
                + ", ".join(f"`{prefix}{n.upper()}` = {default_text(cls.model_fields[n])}" for n in overridden)
                + "."
            )
            out.append("")
        if own:
            out += [*_rows(cls, prefix, own), ""]
        else:
            out += ["No settings of its own.", ""]
    return "\n".join(out).rstrip() + "\n"


def replace_block(page: str, block: str) -> str:
    start = page.index(BEGIN) + len(BEGIN)
    end = page.index(END)
    return page[:start] + "\n\n" + block + "\n" + page[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qaf_devstack.settings_doc", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"rewrite the generated block of {PAGE.relative_to(ROOT)}")
    group.add_argument("--check", action="store_true", help="exit 1 when the committed page is stale")
    args = parser.parse_args(argv)
    block = render()
    if args.write:
        PAGE.write_text(replace_block(PAGE.read_text(), block))
        return 0
    if args.check:
        page = PAGE.read_text()
        if replace_block(page, block) != page:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `make docs` and commit it", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
