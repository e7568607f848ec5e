"""Retention that runs itself (issue 27): the daily Schedule `crisis-privacy-purge` erases personal data
past CRISIS_RETENTION, free text included, reports to privacy_log, and never touches a case under legal
hold; a hold blocks erasure requests too, naming the hold."""

import asyncio
import uuid

from typer.testing import CliRunner

from crisisdesk.models.audit import SCHEDULE_AUDIT
from crisisdesk.models.retention import SCHEDULE_PURGE, PurgeResult
from crisisdesk.models.service import SCHEDULE_MONTHLY, SCHEDULE_QUALITY, SCHEDULE_WEEKLY
from crisisdesk.scrub import Scrubber
from starter.cli import app as cli
from starter.schedules import ensure_schedules
from tests.helpers import eventually

NOTE = "{name} asks to be called on 139 1234 5678 or at {mail}; ID 11010519491231002X"


def crisis(dsn: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})


def test_the_recogniser_replaces_numbers_addresses_ids_and_names_and_leaves_ids_of_records_alone():
    scrub = Scrubber(["张三", "Zhou Mei", "X"])  # a one-letter "name" would blank out words: ignored
    text = ("张三 电话13912345678，座机 021-6123 4567, +44 20 7946 0958, zhou.mei@example.com, 身份证 11010519491231002X, "
            "ZHOU MEI; evidence 13912345678abc0f, case crisis-CALL-13912345678x, at 2026-01-03T10:00:00+00:00 X-ray")
    assert scrub.text(text) == (
        "[name] 电话[phone]，座机 [phone], [phone], [e-mail], 身份证 [ID number], [name]; evidence 13912345678abc0f, "
        "case crisis-CALL-13912345678x, at 2026-01-03T10:00:00+00:00 X-ray")
    assert scrub.counts == {"id": 1, "phone": 3, "email": 1, "name": 2}
    assert scrub.text(scrub.text(text)) == scrub.text(text)


async def closed_case(open_case, pool, tag: str):
    name, mail = f"Zhou Mei {tag}", f"zhou.{tag}@example.com"
    case = await open_case(summary=f"Leak in 3-201, owner on 13800138000 ({tag})",
                           reporter={"name": f"Li Na {tag}", "contact": "+86 138 0013 8000", "role": "owner"})
    await case.act("add_stakeholder", by="Chen CS", name=name, contact=mail, unit="3-201")
    await case.act("note", by="Chen CS", text=NOTE.format(name=name, mail=mail))
    await case.act("cancel", by="Wang Head", reason=f"handled by the property office; {name} informed")
    await case.handle.result()  # its last record written: nothing moves updated_at after the line below
    await eventually(lambda: pool.fetchrow("SELECT stage, (SELECT count(*) FROM stakeholders s WHERE s.case_id = c.case_id) "
                                           "AS people FROM cases c WHERE case_id = $1", case.id),
                     lambda r: r is not None and r["stage"] == "cancelled" and r["people"] == 2)
    await pool.execute("UPDATE cases SET updated_at = now() - interval '400 days' WHERE case_id = $1", case.id)
    return case, name


async def test_the_daily_schedule_purges_past_retention_and_leaves_a_held_case_whole(open_case, client, settings, pool,
                                                                                       dsn, worker):
    tag = uuid.uuid4().hex[:6]
    (old, name), (held, held_name) = await asyncio.gather(closed_case(open_case, pool, f"a{tag}"),
                                                          closed_case(open_case, pool, f"b{tag}"))
    placed = await asyncio.to_thread(crisis, dsn, "case", "hold", held.id, "--reason", "court order 17/2026")
    assert placed.exit_code == 0 and placed.stdout.startswith(f"placed: legal hold #") and "court order 17/2026" in placed.stdout
    blank = await asyncio.to_thread(crisis, dsn, "case", "hold", held.id, "--reason", " ")
    assert blank.exit_code == 2 and "--reason" in blank.stderr

    # The erasure request reaches the held case: refused whole, naming the hold.
    erase = await asyncio.to_thread(crisis, dsn, "privacy", "erase", held_name)
    assert erase.exit_code == 4 and f"legal hold #" in erase.stderr and "court order 17/2026" in erase.stderr
    assert await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1 AND name IS NOT NULL", held.id) == 2

    outcome = await ensure_schedules(client, settings)
    assert outcome[SCHEDULE_PURGE] in ("created", "updated")
    schedule = client.get_schedule_handle(SCHEDULE_PURGE)
    try:
        described = await schedule.describe()
        assert described.schedule.action.workflow == "PrivacyPurgeWorkflow"
        [daily] = described.schedule.spec.calendars  # the server keeps "0 3 * * *" as a calendar: 03:00 every day
        assert [(r.start, r.end) for r in daily.hour] == [(3, 3)] and [r.start for r in daily.minute] == [0]
        await schedule.trigger()
        fired = await eventually(schedule.describe, lambda d: d.info.recent_actions, timeout=30)
        run = client.get_workflow_handle(fired.info.recent_actions[0].action.workflow_id, result_type=PurgeResult)
        result = await run.result()
    finally:
        for schedule_id in (SCHEDULE_WEEKLY, SCHEDULE_MONTHLY, SCHEDULE_QUALITY, SCHEDULE_PURGE, SCHEDULE_AUDIT):
            await client.get_schedule_handle(schedule_id).delete()
    assert result.cases >= 1 and result.scrubbed_phone >= 2 and result.scrubbed_name >= 1
    assert any(held.id in hold and "court order 17/2026" in hold for hold in result.held)

    # The old case: personal fields gone, and what was recognisable in its free text.
    row = await pool.fetchrow("SELECT summary, intake, purged_at FROM cases WHERE case_id = $1", old.id)
    assert row["purged_at"] is not None and "13800138000" not in row["summary"] and "[phone]" in row["summary"]
    assert await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1 AND name IS NOT NULL", old.id) == 0
    details = " ".join(str(r["detail"]) for r in await pool.fetch("SELECT detail FROM timeline_events WHERE case_id = $1", old.id))
    for gone in (name, "139 1234 5678", f"zhou.a{tag}@example.com", "11010519491231002X"):
        assert gone not in details
    assert "[name] asks to be called on [phone] or at [e-mail]; ID [ID number]" in details
    bodies = " ".join(r["body"] for r in await pool.fetch("SELECT body FROM notifications WHERE case_id = $1", old.id))
    assert "13800138000" not in bodies
    # The held case: as it was.
    kept = " ".join(str(r["detail"]) for r in await pool.fetch("SELECT detail FROM timeline_events WHERE case_id = $1", held.id))
    assert held_name in kept and "139 1234 5678" in kept
    assert await pool.fetchval("SELECT purged_at FROM cases WHERE case_id = $1", held.id) is None
    logged = await pool.fetchrow("SELECT by_whom, detail FROM privacy_log WHERE kind = 'purge' ORDER BY entry_id DESC LIMIT 1")
    assert logged["by_whom"] == SCHEDULE_PURGE and held.id in logged["detail"]["held"] and name not in str(logged["detail"])

    # Released, the next run takes it; a run after that finds nothing left to do.
    released = await asyncio.to_thread(crisis, dsn, "case", "release", held.id)
    assert released.exit_code == 0 and released.stdout.startswith("released: legal hold #")
    again = await asyncio.to_thread(crisis, dsn, "privacy", "purge")
    assert again.exit_code == 0 and not again.stdout.startswith("0 case"), again.stdout
    assert await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1 AND name IS NOT NULL", held.id) == 0
    nothing = await asyncio.to_thread(crisis, dsn, "privacy", "purge")
    assert nothing.stdout.startswith("0 case(s) past retention"), nothing.stdout
    not_held = await asyncio.to_thread(crisis, dsn, "case", "release", held.id)
    assert not_held.exit_code == 3 and "not under legal hold" in not_held.stderr
