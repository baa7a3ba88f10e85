"""Who may do what, decided from the caller's token (role + principal id) and the escalation.

- raise: a CPA or IRO raises in their own name (role cpa / iro; the raiser's id is their token's
  principal). qa-admin, and a service's case system (role case-system), may record one raised by a
  CPA or IRO, naming `raised_by_role` and `raised_by_id`.
- progress, withdraw: the CPA/IRO who raised it, or qa-admin.
- resolve: the CPA/IRO who raised it, qa-admin, or the addressed manager's side: a case-system
  token whose principal is the team or the manager the escalation is addressed to.
- read: cpa, iro, qa-admin, case-system, reporting; the notes: all but reporting.
"""

from __future__ import annotations

from dataclasses import dataclass

from qaf_shared.vocabulary import EscalationRole

from qaf_escalations.domain.errors import InvalidInput, NotAllowed
from qaf_escalations.domain.escalations import Escalation

RAISING_ROLES = ("cpa", "iro", "qa-admin", "case-system")
READING_ROLES = ("cpa", "iro", "qa-admin", "case-system", "reporting")
ACTING_ROLES = ("cpa", "iro", "qa-admin", "case-system")
OWN_ROLE = {"cpa": EscalationRole.CPA, "iro": EscalationRole.IRO}


@dataclass(frozen=True)
class Actor:
    role: str
    id: str


def raiser(actor: Actor, raised_by_role: EscalationRole | None, raised_by_id: str | None) -> tuple[EscalationRole, str]:
    """Who the escalation is raised by, as the caller may claim it."""
    if actor.role in OWN_ROLE:
        own = OWN_ROLE[actor.role]
        if raised_by_role is not None and raised_by_role != own:
            raise NotAllowed(
                f"a {actor.role} token raises escalations as {own}, not as {raised_by_role}", "raised_by_role"
            )
        if raised_by_id is not None and raised_by_id != actor.id:
            raise NotAllowed(
                f"a {actor.role} token raises escalations in its own name ({actor.id}), not as {raised_by_id}",
                "raised_by_id",
            )
        return own, actor.id
    if actor.role in ("qa-admin", "case-system"):
        if raised_by_role is None:
            raise InvalidInput(f"raised_by_role is required when a {actor.role} token records an escalation",
                               "raised_by_role")
        if raised_by_id is None:
            raise InvalidInput(f"raised_by_id is required when a {actor.role} token records an escalation",
                               "raised_by_id")
        return raised_by_role, raised_by_id
    raise NotAllowed(f"role {actor.role!r} may not raise escalations")


def sees_notes(actor: Actor) -> bool:
    """Free-text notes are for the desks' own roles; the reporting role reads the rest."""
    return actor.role != "reporting"


def _is_raiser(actor: Actor, escalation: Escalation) -> bool:
    return OWN_ROLE.get(actor.role) == escalation.raised_by_role and actor.id == escalation.raised_by_id


def check_may_act(actor: Actor, escalation: Escalation, action: str) -> None:
    """`action` is progress, resolve or withdraw."""
    if actor.role == "qa-admin" or _is_raiser(actor, escalation):
        return
    if (
        action == "resolve"
        and actor.role == "case-system"
        and actor.id in (escalation.addressed_to_team_id, escalation.addressed_to_manager_id)
    ):
        return
    who = "the CPA/IRO who raised it or qa-admin"
    if action == "resolve":
        who += ", or the case system of the team or manager it is addressed to"
    raise NotAllowed(f"{actor.role} {actor.id} may not {action} escalation {escalation.escalation_id}: only {who} may")
