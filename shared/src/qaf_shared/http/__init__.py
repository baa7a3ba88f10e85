"""HTTP plumbing: health, readiness, metrics and bearer-token auth for every service."""

from qaf_shared.http.auth import Principal, TokenStore, require_role
from qaf_shared.http.app import create_http_app
from qaf_shared.http.intake import intake_router
from qaf_shared.http.units import unit_of_work

__all__ = ["Principal", "TokenStore", "create_http_app", "intake_router", "require_role", "unit_of_work"]
