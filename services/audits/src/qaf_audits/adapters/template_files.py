"""The templates shipped with the service: YAML files in `qaf_audits/templates/`, one per version."""

from __future__ import annotations

from pathlib import Path

import yaml

from qaf_audits.domain.templates import Template, parse_template

PACKAGED = Path(__file__).resolve().parent.parent / "templates"


def read_template_file(path: Path) -> Template:
    with path.open(encoding="utf-8") as handle:
        return parse_template(yaml.safe_load(handle))


def packaged_templates(directory: Path = PACKAGED) -> list[Template]:
    return [read_template_file(path) for path in sorted(directory.glob("*.yaml"))]
