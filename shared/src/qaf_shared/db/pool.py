"""Connection pools bound to a service's own schema."""

from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg


def role_name(schema: str) -> str:
    return f"qaf_{schema}"


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def service_database_url(admin_url: str, schema: str, password: str) -> str:
    """The URL a service connects with: its own role, on the same server and database."""
    return with_credentials(admin_url, role_name(schema), password)


async def connect_pool(url: str, schema: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    """A pool whose connections see the service's schema first, and only it unless qualified."""
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": f"qaf-{schema}"},
        command_timeout=30,
    )
