"""Errors the domain reports: what is wrong, and with which field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, named as a path such as `domains[2].grade`."""

    field: str
    message: str


class DomainError(Exception):
    """A request the current state forbids (an illegal transition): HTTP 409."""


class NotFound(Exception):
    """No such audit, template or concern: HTTP 404."""


class Forbidden(Exception):
    """The principal holds the right role but not for this audit: HTTP 403."""


class Invalid(ValueError):
    """A request that breaks rules about its own content: HTTP 422, one message per field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
