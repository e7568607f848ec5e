"""The case record: open_case, record_timeline, stakeholders, purging personal data."""

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.records import CaseRecords, purge_personal_data
from crisisdesk.models.effects import OpenCase, RecordTimeline, StoreStakeholder
from crisisdesk.models.intake import Intake
from tests.helpers.activity_samples import T0, make_events, make_status, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


def open_request(case_id: str, playbook: str = "delivery") -> OpenCase:
    intake = Intake(
        intake_id=case_id.removeprefix("crisis-"), channel="phone", summary="Water leaking through the ceiling",
        reporter={"name": "Wang Fang", "contact": "+86 138 0000 0000", "role": "owner"},
        project={"id": "P1", "name": "Garden Court", "region": "east"}, severity="important",
    )
    return OpenCase(case_id=case_id, intake=intake, playbook=playbook, opened_at=T0)


async def test_open_case_twice_makes_one_case_and_keeps_the_reporter_apart(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    first = await records.open_case(open_request(case_id))
    second = await records.open_case(open_request(case_id))
    assert (first.created, second.created) == (True, False)
    assert first.playbook.name == "delivery"
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        reporters = await conn.fetch("SELECT name, contact, role FROM stakeholders WHERE case_id = $1", case_id)
        version = await conn.fetchval(
            "SELECT count(*) FROM playbook_versions WHERE name = 'delivery' AND digest = $1", first.playbook.digest)
    assert case["stage"] == "reported" and case["severity"] == "important" and case["playbook_version"] == 1
    assert "Wang Fang" not in str(dict(case)) and "138 0000" not in str(dict(case))
    assert case["intake"]["reporter"] == {"role": "owner"}
    assert [dict(r) for r in reporters] == [{"name": "Wang Fang", "contact": "+86 138 0000 0000", "role": "reporter"}]
    assert version == 1


async def test_unknown_playbook_is_refused_for_good(pool, settings):
    with pytest.raises(ApplicationError) as caught:
        await CaseRecords(pool, settings).open_case(open_request(new_case_id(), playbook="no_such_plan"))
    assert caught.value.type == "PlaybookError" and caught.value.non_retryable
    assert "no_such_plan" in caught.value.message


async def test_record_timeline_twice_writes_each_event_once_and_projects_the_status(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    await records.open_case(open_request(case_id))
    request = RecordTimeline(case_id=case_id, status=make_status(case_id), events=make_events("triage", "acknowledge"))
    assert (await records.record_timeline(request)).inserted == 2
    assert (await records.record_timeline(request)).inserted == 0
    async with pool.acquire() as conn:
        names = [r["name"] for r in await conn.fetch(
            "SELECT name FROM timeline_events WHERE case_id = $1 ORDER BY seq", case_id)]
        case = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
    assert names == ["triage", "acknowledge"]
    assert (case["stage"], case["path"], case["category"], case["breached"]) == ("planning", "crisis", "technical", False)
    assert case["next_deadline"] == T0 + timedelta(hours=12)
    assert case["status"]["open_actions"] == ["decide_plan"]


async def test_a_late_retry_never_rolls_the_projection_back(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    newer = make_status(case_id, stage="contacting", updated_at=T0 + timedelta(hours=5))
    older = make_status(case_id, stage="planning", updated_at=T0 + timedelta(hours=2))
    await records.record_timeline(RecordTimeline(case_id=case_id, status=newer, events=make_events("a", "b")))
    late = await records.record_timeline(RecordTimeline(case_id=case_id, status=older, events=make_events("a")))
    assert late.inserted == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT stage FROM cases WHERE case_id = $1", case_id) == "contacting"


async def test_stakeholders_are_idempotent_and_can_be_purged(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    await records.open_case(open_request(case_id))
    request = StoreStakeholder(key=f"{case_id}:stakeholder:1", case_id=case_id, by="Zhang San", name="Chen Jie",
                               contact="chen@example.com", household="Building 3, 1201", key_contact=True)
    first = await records.store_stakeholder(request)
    second = await records.store_stakeholder(request)
    assert first.stakeholder_id == second.stakeholder_id
    counts = await purge_personal_data(pool, case_id)
    assert counts["stakeholders"] == 2  # the reporter and Chen Jie
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM stakeholders WHERE case_id = $1", case_id)
    assert all(r["name"] is None and r["contact"] is None and r["household"] is None for r in rows)
    assert all(r["purged_at"] is not None for r in rows)
    assert (await purge_personal_data(pool, case_id))["stakeholders"] == 0


async def test_the_first_projection_applies_even_if_older_than_the_opening(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    await records.open_case(open_request(case_id))  # opened_at T0
    early = make_status(case_id, stage="triaged", updated_at=T0 - timedelta(minutes=5))
    await records.record_timeline(RecordTimeline(case_id=case_id, status=early, events=[]))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT stage FROM cases WHERE case_id = $1", case_id) == "triaged"


async def test_open_case_without_a_playbook_uses_the_workers_default(pool, settings):
    request = open_request(new_case_id()).model_copy(update={"playbook": None})
    opened = await CaseRecords(pool, settings.model_copy(update={"playbook": "service"})).open_case(request)
    assert opened.playbook.name == "service" and opened.created
