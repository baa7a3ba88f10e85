"""What a service refuses, one hierarchy for all, and how each refusal reads over HTTP.

A use case raises these; `install_error_handlers` (done by every service's app) turns them into a 4xx
whose body says what is wrong: 404 NotFound, 403 Forbidden, 409 Conflict (the state forbids it), 422
Invalid (the request's own content, one entry per field, in FastAPI's validation-error shape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, named as a path such as `domains[2].grade`."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every refusal; `field` names the request field at fault, when there is one."""

    status_code = 409

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def detail(self) -> Any:
        return self.message


class NotFound(DomainError):
    """No such thing: 404."""

    status_code = 404


class Forbidden(DomainError):
    """The caller holds the role but may not do this to this object: 403."""

    status_code = 403


class Conflict(DomainError):
    """The thing exists but its state does not allow this (or the identifier is taken): 409."""

    status_code = 409


class Invalid(DomainError):
    """The request breaks rules about its own content: 422, one message per field."""

    status_code = 422

    def __init__(self, message: str | list[FieldError], field: str | None = None) -> None:
        errors = message if isinstance(message, list) else [FieldError(field or "", message)]
        super().__init__("; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors),
                         (errors[0].field or None) if len(errors) == 1 else None)
        self.errors = errors

    def detail(self) -> Any:
        return [
            {"loc": field_location(e.field), **({"field": e.field} if e.field else {}), "msg": e.message,
             "type": "value_error"}
            for e in self.errors
        ]


def field_location(field: str) -> list[str | int]:
    """`domains[2].grade` -> ["body", "domains", 2, "grade"], as FastAPI locates a field."""
    parts: list[str | int] = ["body"]
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        parts.append(int(index) if index else name)
    return parts


async def _refusal(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail()}, status_code=exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _refusal)
