"""What the domain refuses, and why: the platform's refusals (qaf_shared.errors), named for this service.
The platform's HTTP handler gives each its status code."""

from __future__ import annotations

from qaf_shared.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

__all__ = ["AlreadyExists", "DomainError", "EventFromTheFuture", "IllegalTransition", "InvalidInput", "NotAllowed",
           "NotFound"]


class InvalidInput(Invalid):
    """A value that can never be right here (a date in the future, an unknown case): 422."""


class IllegalTransition(Conflict):
    """The thing exists but its state does not allow this (resolving a resolved escalation): 409."""


class NotAllowed(Forbidden):
    """The caller's role or identity may not do this: 403."""


class AlreadyExists(IllegalTransition):
    """An identifier already in use: 409."""


class EventFromTheFuture(DomainError):
    """A case event dated after the service's today: it can never apply (the consumer dead-letters it)."""
