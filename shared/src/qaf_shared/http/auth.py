"""Bearer tokens: stored as SHA-256 digests, each mapped to a principal (team or person id) and a role.

A request without a valid token gets 401; a valid token whose role may not do the thing gets 403.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qaf_shared.envelope import is_opaque_id

ROLES = frozenset(
    {
        "qa-admin",  # runs the framework: roster, templates, the action plan
        "auditor",
        "lead-auditor",
        "cpa",  # Child Protection Advisor
        "iro",  # Independent Reviewing Officer
        "complaints",  # the complaints desk
        "case-system",  # a service team's case system publishing over HTTP
        "reporting",  # read-only consumers of figures and reports
        "action-owner",
        "board",  # Quality Assurance Board members: read the digest
    }
)


@dataclass(frozen=True)
class Principal:
    token_id: str
    principal: str
    role: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """Tokens of one service, in its own schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, principal: str, role: str) -> tuple[str, str]:
        """Returns (token_id, token). The token is shown once and never stored in the clear."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are: {', '.join(sorted(ROLES))}")
        if not is_opaque_id(principal):
            raise ValueError(
                f"principal {principal!r} must be an opaque identifier (letters, digits, - _ . :), not a name"
            )
        token_id = secrets.token_hex(6)
        token = f"qaf_{token_id}_{secrets.token_urlsafe(32)}"
        await self._pool.execute(
            "INSERT INTO api_tokens (token_id, token_sha256, principal, role) VALUES ($1, $2, $3, $4)",
            token_id,
            _digest(token),
            principal,
            role,
        )
        return token_id, token

    async def revoke(self, token_id: str) -> bool:
        result = await self._pool.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL", token_id
        )
        return result.endswith(" 1")

    async def list(self) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT token_id, principal, role, created_at, revoked_at FROM api_tokens ORDER BY created_at"
        )
        return [dict(r) for r in rows]

    async def authenticate(self, token: str) -> Principal | None:
        row = await self._pool.fetchrow(
            "SELECT token_id, principal, role FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
            _digest(token),
        )
        return Principal(row["token_id"], row["principal"], row["role"]) if row else None


_bearer = HTTPBearer(auto_error=False, description="A token made with `<service> tokens create`.")


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    store: TokenStore = request.app.state.tokens
    principal = await store.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="the bearer token is not valid or has been revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_role(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only principals holding one of `roles`."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role!r} may not do this; it needs one of: {', '.join(roles)}",
            )
        return principal

    return dependency
