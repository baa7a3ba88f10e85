"""Migration files: dbmate records every version of a service's folders in one table."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaf_shared.db.migrate import PLATFORM_MIGRATIONS

ROOT = Path(__file__).resolve().parents[3]
SERVICE_MIGRATIONS = sorted(ROOT.glob("services/*/src/*/migrations"))


@pytest.mark.parametrize("folder", SERVICE_MIGRATIONS, ids=lambda p: p.parts[-4])
def test_a_services_migration_versions_are_unique_with_the_platform_ones(folder: Path) -> None:
    files = sorted(PLATFORM_MIGRATIONS.glob("*.sql")) + sorted(folder.glob("*.sql"))
    versions = [f.name.split("_", 1)[0] for f in files]
    assert len(versions) == len(set(versions)), [f.name for f in files]
    for f in files:
        text = f.read_text()
        assert text.startswith("-- migrate:up") and "-- migrate:down" in text, f.name
