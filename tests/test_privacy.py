"""Personal data after the case (issue 9): `crisis privacy purge` after retention and `crisis privacy
erase` on request empty the personal fields, keep the case record, and say how many rows changed."""

import asyncio
import uuid

from typer.testing import CliRunner

from starter.cli import app as cli
from tests.helpers import eventually


def privacy(dsn: str, *args: str):
    return CliRunner().invoke(cli, ["privacy", *args], env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})


async def test_purge_after_retention_and_erase_on_request_keep_the_record(open_case, pool, dsn):
    owner = f"Owner Zhou {uuid.uuid4().hex[:6]}"
    old = await open_case()
    await old.act("add_stakeholder", by="Chen CS", name=owner, contact="+86 139 0000 0000", unit="3-1201")
    other = await open_case()
    await other.act("add_stakeholder", by="Chen CS", name=f"{owner} jr", contact="jr@example.com")
    for case in (old, other):
        await eventually(lambda c=case: pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1 AND role = 'stakeholder'", c.id),
                         lambda n: n == 1)
    await old.act("cancel", by="Wang Head", reason="duplicate report")
    await eventually(lambda: pool.fetchval("SELECT stage FROM cases WHERE case_id = $1", old.id), lambda s: s == "cancelled")
    await pool.execute("UPDATE cases SET updated_at = now() - interval '400 days' WHERE case_id = $1", old.id)
    events_before = await pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", old.id)

    bad = await asyncio.to_thread(privacy, dsn, "purge", "--older-than", "soon")
    assert bad.exit_code == 2 and "--older-than" in bad.stderr
    purged = await asyncio.to_thread(privacy, dsn, "purge", "--older-than", "365d")
    assert purged.exit_code == 0, purged.stderr
    assert "case(s) past retention" in purged.output and not purged.output.startswith("0 case")
    row = await pool.fetchrow("SELECT name, contact, unit, purged_at FROM stakeholders WHERE case_id = $1 AND role = 'stakeholder'", old.id)
    assert (row["name"], row["contact"], row["unit"]) == (None, None, None) and row["purged_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", old.id) == events_before
    kept = await pool.fetchval("SELECT name FROM stakeholders WHERE case_id = $1 AND role = 'stakeholder'", other.id)
    assert kept == f"{owner} jr"  # an open case keeps its people

    erased = await asyncio.to_thread(privacy, dsn, "erase", f"{owner} jr")
    assert erased.exit_code == 0 and erased.output.startswith("1 stakeholder row(s) erased"), erased.output
    assert await pool.fetchval("SELECT name FROM stakeholders WHERE case_id = $1 AND role = 'stakeholder'", other.id) is None
    logged = await pool.fetch("SELECT kind, detail FROM privacy_log ORDER BY entry_id DESC LIMIT 2")
    assert [r["kind"] for r in logged] == ["erase", "purge"] and owner not in str([dict(r) for r in logged])
