"""The qaf-allocation command line on the real database: roster import, run, show."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from qaf_shared.cli import service_main
from qaf_shared.settings import KafkaSettings

from qaf_allocation.entrypoints.cli import extend
from tests.integration.allocation.support import allocation_definition

pytestmark = pytest.mark.integration

ROSTER_CSV = """auditor_id,service,manages_teams,is_lead,capacity,absences
L-FR,first-response,,yes,3,
M-FR-1,first-response,T-FR-1;T-FR-2,no,2,2013-10-14..2013-10-18
L-CIC,children-in-care,,true,4,
"""


async def test_roster_import_run_and_show_from_the_command_line(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*argv: str) -> int:
        return service_main(lambda: allocation_definition(database_url, kafka_settings), list(argv), extend=extend)

    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_CSV)
    assert await asyncio.to_thread(cli, "roster", "import", str(roster)) == 0
    assert capsys.readouterr().out.splitlines() == ["added L-FR", "added M-FR-1", "added L-CIC"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"auditor_id": "X-1", "service": "children-in-care", "capacity": 1},
                               {"auditor_id": "X-2", "service": "first-response", "capacity": -2}]))
    assert await asyncio.to_thread(cli, "roster", "import", str(bad)) == 2
    assert "entry 2 (X-2): capacity: Input should be greater than or equal to 0" in capsys.readouterr().err

    assert await asyncio.to_thread(cli, "roster", "list") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["auditor_id"] for a in listed] == ["L-CIC", "L-FR", "M-FR-1"]  # nothing of the bad file
    assert listed[2]["manages_teams"] == ["T-FR-1", "T-FR-2"]
    assert listed[2]["absences"] == [{"starts_on": "2013-10-14", "ends_on": "2013-10-18"}]

    assert await asyncio.to_thread(cli, "run", "--month", "2013-10", "--as-of", "2013-11-01") == 2
    assert "as_of 2013-11-01 is not in month 2013-10" in capsys.readouterr().err

    assert await asyncio.to_thread(cli, "run", "--month", "2013-10", "--as-of", "2013-10-01", "--seed", "5") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "drew D-2013-10 (seed 5): 0 of 50 allocated"
    assert out[1].startswith("  shortfall [population] only 0 eligible cases: 0 open in the 6 months to 2013-10-01")
    assert await asyncio.to_thread(cli, "run", "--month", "2013-10", "--as-of", "2013-10-01") == 0
    assert capsys.readouterr().out.startswith("already drawn: D-2013-10 (seed 5)")

    assert await asyncio.to_thread(cli, "show", "--month", "2013-10") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["trigger"] == "cli" and shown["requested_by"] == "cli" and shown["allocations"] == []
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM allocation.draws") == 1
    finally:
        await conn.close()
