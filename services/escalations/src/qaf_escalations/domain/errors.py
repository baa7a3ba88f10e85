"""What the domain refuses, and why. The HTTP adapter maps each kind to its status code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal. `field` names the request field at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value that can never be right here (a date in the future, an unknown case): 422."""


class IllegalTransition(DomainError):
    """The thing exists but its state does not allow this (resolving a resolved escalation): 409."""


class NotAllowed(DomainError):
    """The caller's role or identity may not do this: 403."""


class NotFound(DomainError):
    """No such escalation or complaint: 404."""


class AlreadyExists(IllegalTransition):
    """An identifier already in use: 409."""
