"""PostgreSQL plumbing: each service owns one schema and one role, migrated by dbmate."""

from qaf_shared.db.pool import connect_pool, service_database_url
from qaf_shared.db.migrate import migrate_service

__all__ = ["connect_pool", "migrate_service", "service_database_url"]
