"""HTTP plumbing: health, readiness, metrics and bearer-token auth for every service."""

from qaf_shared.http.auth import Principal, TokenStore, require_role
from qaf_shared.http.app import create_http_app

__all__ = ["Principal", "TokenStore", "create_http_app", "require_role"]
