"""The case record: open_case, record_timeline (the first one opens the row), stakeholders, purging."""

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.privacy import purge_personal_data
from activities.records import CaseRecords
from crisisdesk.models.effects import CaseOpening, OpenCase, RecordTimeline, StoreStakeholder
from crisisdesk.playbooks import load_playbook
from crisisdesk.models.intake import Intake
from tests.helpers.activity_samples import T0, make_events, make_status, new_case_id
from workflows.opening import open_case_file

pytestmark = pytest.mark.asyncio(loop_scope="session")


def open_request(case_id: str, playbook: str = "delivery") -> OpenCase:
    intake = Intake(
        intake_id=case_id.removeprefix("crisis-"), channel="phone", summary="Water leaking through the ceiling",
        reporter={"name": "Wang Fang", "contact": "+86 138 0000 0000", "role": "owner"},
        project={"id": "P1", "name": "Garden Court", "region": "east"}, severity="important",
    )
    return OpenCase(case_id=case_id, intake=intake, playbook=playbook, opened_at=T0)


def opening(case_id: str) -> CaseOpening:
    request = open_request(case_id)
    return CaseOpening(intake=request.intake, playbook=load_playbook("delivery"), received_at=T0, opened_at=T0)


async def first_record(records: CaseRecords, case_id: str, **status) -> None:
    await records.record_timeline(RecordTimeline(case_id=case_id, status=make_status(case_id, **status), events=[],
                                                 opening=opening(case_id)))


async def test_open_case_loads_the_playbook_without_touching_postgres(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    opened = await records.open_case(open_request(case_id))
    assert opened.playbook.name == "delivery" and opened.problem is None
    assert await pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", case_id) == 0


async def test_open_case_asked_to_record_writes_the_opening_the_workflow_builds(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    request = open_request(case_id).model_copy(update={"record_at": T0})
    opened = await records.open_case(request)
    expected = open_case_file(case_id, request.intake, opened, T0, T0).state.events
    assert opened.recorded_seq == expected[-1].seq
    rows = await pool.fetch("SELECT seq, kind, name FROM timeline_events WHERE case_id = $1 ORDER BY seq", case_id)
    assert [(r["seq"], r["kind"], r["name"]) for r in rows] == [(e.seq, e.kind, e.name) for e in expected]
    case = await pool.fetchrow("SELECT stage, opened_at, status FROM cases WHERE case_id = $1", case_id)
    assert case["opened_at"] == T0 and case["status"]["case_id"] == case_id
    assert await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1", case_id) == 1


async def test_open_case_leaves_a_refused_opening_to_the_case_and_writes_none_of_it(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    request = open_request(case_id).model_copy(update={"record_at": T0})
    request.intake.location = "hall \x00"  # past the models' own refusal: PostgreSQL refuses it as data
    opened = await records.open_case(request)
    assert opened.playbook.name == "delivery" and opened.recorded_seq == 0
    assert await pool.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", case_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", case_id) == 0


async def test_the_first_record_makes_one_case_and_keeps_the_reporter_apart(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    await first_record(records, case_id, stage="reported", severity="important")
    await first_record(records, case_id, stage="reported", severity="important")  # a retry
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        reporters = await conn.fetch("SELECT name, contact, role FROM stakeholders WHERE case_id = $1", case_id)
        version = await conn.fetchval(
            "SELECT count(*) FROM playbook_versions WHERE name = 'delivery' AND digest = $1", load_playbook("delivery").digest)
    assert case["stage"] == "reported" and case["severity"] == "important" and case["playbook_version"] == 1
    assert case["channel"] == "phone" and case["opened_at"] == T0
    assert "Wang Fang" not in str(dict(case)) and "138 0000" not in str(dict(case))
    assert case["intake"]["reporter"] == {"role": "owner"}
    assert [dict(r) for r in reporters] == [{"name": "Wang Fang", "contact": "+86 138 0000 0000", "role": "reporter"}]
    assert version == 1


async def test_unknown_playbook_falls_back_to_the_default_and_says_so(pool, settings):
    opened = await CaseRecords(pool, settings).open_case(open_request(new_case_id(), playbook="no_such_plan"))
    assert opened.playbook.name == "delivery" and "no_such_plan" in opened.problem


async def test_a_missing_default_playbook_is_refused_for_good(pool, settings):
    request = open_request(new_case_id()).model_copy(update={"playbook": None})
    with pytest.raises(ApplicationError) as caught:
        await CaseRecords(pool, settings.model_copy(update={"playbook": "no_such_plan"})).open_case(request)
    assert caught.value.type == "PlaybookError" and caught.value.non_retryable
    assert "no_such_plan" in caught.value.message


async def test_text_postgresql_refuses_is_a_non_retryable_rejection_then_stored_scrubbed(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
    events = make_events("note")
    events[0].detail["text"] = "bad \x00 byte"  # built past the models' own refusal: say, an older case
    request = RecordTimeline(case_id=case_id, status=make_status(case_id), events=events)
    with pytest.raises(ApplicationError) as caught:
        await records.record_timeline(request)
    assert caught.value.type == "RecordRejected" and caught.value.non_retryable
    assert (await records.record_timeline(request.model_copy(update={"scrub": True}))).inserted == 1
    detail = await pool.fetchval("SELECT detail FROM timeline_events WHERE case_id = $1", case_id)
    assert detail["text"] == "bad \ufffd byte"


async def test_record_timeline_twice_writes_each_event_once_and_projects_the_status(pool, settings):
    records, case_id = CaseRecords(pool, settings), new_case_id()
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


async def test_the_events_of_a_workflow_task_run_again_replace_those_of_the_lost_attempt(pool, settings):
    """A worker died after recording a task's events but before completing the task; the server ran it
    again later, with later times. The record must equal the history that counts: the second write."""
    records, case_id = CaseRecords(pool, settings), new_case_id()
    lost = make_events("triage", "acknowledge")
    rerun = [e.model_copy(update={"at": e.at + timedelta(seconds=10), "detail": {"due_at": "later"}}) for e in lost]
    status = make_status(case_id)
    assert (await records.record_timeline(RecordTimeline(case_id=case_id, status=status, events=lost))).inserted == 2
    assert (await records.record_timeline(RecordTimeline(case_id=case_id, status=status, events=rerun))).inserted == 2
    assert (await records.record_timeline(RecordTimeline(case_id=case_id, status=status, events=rerun))).inserted == 0
    rows = await pool.fetch("SELECT at, detail FROM timeline_events WHERE case_id = $1 ORDER BY seq", case_id)
    assert [(r["at"], r["detail"]) for r in rows] == [(e.at, e.detail) for e in rerun]


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
    await first_record(records, case_id)
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
    await first_record(records, case_id, stage="triaged", updated_at=T0 - timedelta(minutes=5))  # opened_at T0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT stage FROM cases WHERE case_id = $1", case_id) == "triaged"


async def test_open_case_without_a_playbook_uses_the_workers_default(pool, settings):
    request = open_request(new_case_id()).model_copy(update={"playbook": None})
    opened = await CaseRecords(pool, settings.model_copy(update={"playbook": "service"})).open_case(request)
    assert opened.playbook.name == "service" and opened.problem is None
