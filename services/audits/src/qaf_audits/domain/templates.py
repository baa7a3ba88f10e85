"""Audit templates as data: domains to grade and indicator questions to answer, each on a theme.

A template is identified by (template_id, version). Versions never change once stored: a new
definition of the same template is a new version, and an audit records the version it used.
Parsing is pure: it turns a mapping (from a YAML file or a JSON request) into a `Template`, or
raises `TemplateInvalid` with one message per faulty field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qaf_shared.envelope import is_opaque_id
from qaf_shared.errors import FieldError, Invalid
from qaf_shared.vocabulary import ACTION_PLAN_THEMES, Theme


class TemplateKind(StrEnum):
    LIGHT_TOUCH = "light-touch"  # the monthly random sample (§3.1)
    THEMED = "themed"  # an event audit designed for one theme or care group (§3.2)


@dataclass(frozen=True)
class DomainDef:
    id: str
    title: str
    mandatory: bool = True
    themes: tuple[Theme, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    theme: Theme
    mandatory: bool = True
    domain: str | None = None


@dataclass(frozen=True)
class Template:
    id: str
    version: int
    kind: TemplateKind
    title: str
    review_window_months: int
    domains: tuple[DomainDef, ...]
    questions: tuple[Question, ...] = ()
    description: str = ""
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def domain(self, domain_id: str) -> DomainDef | None:
        return next((d for d in self.domains if d.id == domain_id), None)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def action_plan_areas_covered(self) -> frozenset[Theme]:
        return frozenset(q.theme for q in self.questions if q.theme in ACTION_PLAN_THEMES)

    @property
    def digest(self) -> str:
        """A fingerprint of the definition, to tell an unchanged re-load from an edit."""
        return definition_digest(self.definition)


class TemplateInvalid(Invalid):
    pass


def definition_digest(definition: Mapping[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_THEMES = {t.value: t for t in Theme}


def _text(data: Mapping[str, Any], key: str, where: str, errors: list[FieldError], *, required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            errors.append(FieldError(f"{where}{key}", "is required"))
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        errors.append(FieldError(f"{where}{key}", "must be a non-empty string"))
        return ""
    return value.strip()


def _flag(data: Mapping[str, Any], key: str, where: str, errors: list[FieldError], default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        errors.append(FieldError(f"{where}{key}", "must be true or false"))
        return default
    return value


def _theme(value: Any, where: str, errors: list[FieldError]) -> Theme | None:
    if isinstance(value, str) and value in _THEMES:
        return _THEMES[value]
    errors.append(FieldError(where, f"{value!r} is not a theme of the shared vocabulary"))
    return None


def _ident(data: Mapping[str, Any], key: str, where: str, errors: list[FieldError]) -> str:
    value = _text(data, key, where, errors)
    if value and not is_opaque_id(value):
        errors.append(FieldError(f"{where}{key}", f"{value!r} is not an identifier (letters, digits, - _ . :)"))
        return ""
    return value


def parse_template(data: Any, *, version: int | None = None) -> Template:
    """Build a template from its data. `version`, when given, overrides the one in the data."""
    errors: list[FieldError] = []
    if not isinstance(data, Mapping):
        raise TemplateInvalid([FieldError("(root)", "a template must be a mapping")])
    template_id = _ident(data, "id", "", errors)
    title = _text(data, "title", "", errors)
    description = _text(data, "description", "", errors, required=False)
    raw_version = version if version is not None else data.get("version", 1)
    if not isinstance(raw_version, int) or isinstance(raw_version, bool) or raw_version < 1:
        errors.append(FieldError("version", "must be a whole number from 1"))
        raw_version = 1
    raw_kind = data.get("kind", TemplateKind.THEMED.value)
    try:
        kind = TemplateKind(raw_kind)
    except ValueError:
        errors.append(FieldError("kind", f"must be one of {', '.join(k.value for k in TemplateKind)}"))
        kind = TemplateKind.THEMED
    window = data.get("review_window_months", 6)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 60:
        errors.append(FieldError("review_window_months", "must be a whole number of months from 1 to 60"))
        window = 6

    domains: list[DomainDef] = []
    raw_domains = data.get("domains")
    if not isinstance(raw_domains, list) or not raw_domains:
        errors.append(FieldError("domains", "at least one domain is required"))
        raw_domains = []
    for i, raw in enumerate(raw_domains):
        where = f"domains[{i}]."
        if not isinstance(raw, Mapping):
            errors.append(FieldError(f"domains[{i}]", "must be a mapping"))
            continue
        themes = tuple(
            t for j, v in enumerate(raw.get("themes") or []) if (t := _theme(v, f"{where}themes[{j}]", errors))
        )
        domains.append(
            DomainDef(
                id=_ident(raw, "id", where, errors),
                title=_text(raw, "title", where, errors),
                mandatory=_flag(raw, "mandatory", where, errors, True),
                themes=themes,
            )
        )
    domain_ids = [d.id for d in domains if d.id]
    for duplicate in sorted({d for d in domain_ids if domain_ids.count(d) > 1}):
        errors.append(FieldError("domains", f"domain id {duplicate!r} is used more than once"))

    questions: list[Question] = []
    raw_questions = data.get("questions") or []
    if not isinstance(raw_questions, list):
        errors.append(FieldError("questions", "must be a list"))
        raw_questions = []
    for i, raw in enumerate(raw_questions):
        where = f"questions[{i}]."
        if not isinstance(raw, Mapping):
            errors.append(FieldError(f"questions[{i}]", "must be a mapping"))
            continue
        domain = raw.get("domain")
        if domain is not None and domain not in domain_ids:
            errors.append(FieldError(f"{where}domain", f"{domain!r} is not a domain of this template"))
        theme = _theme(raw.get("theme"), f"{where}theme", errors)
        questions.append(
            Question(
                id=_ident(raw, "id", where, errors),
                text=_text(raw, "text", where, errors),
                theme=theme or Theme.RECORDING,
                mandatory=_flag(raw, "mandatory", where, errors, True),
                domain=domain if isinstance(domain, str) else None,
            )
        )
    question_ids = [q.id for q in questions if q.id]
    for duplicate in sorted({q for q in question_ids if question_ids.count(q) > 1}):
        errors.append(FieldError("questions", f"question id {duplicate!r} is used more than once"))

    if kind is TemplateKind.LIGHT_TOUCH:
        missing = ACTION_PLAN_THEMES - {q.theme for q in questions}
        if missing:
            errors.append(
                FieldError(
                    "questions",
                    "a light-touch template must ask about every action-plan area; missing: "
                    + ", ".join(sorted(t.value for t in missing)),
                )
            )
    if errors:
        raise TemplateInvalid(errors)
    definition = {k: v for k, v in data.items() if k != "version"}
    return Template(
        id=template_id,
        version=raw_version,
        kind=kind,
        title=title,
        description=description,
        review_window_months=window,
        domains=tuple(domains),
        questions=tuple(questions),
        definition=definition,
    )
