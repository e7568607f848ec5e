"""The operator's day (issue 30) on the real dev server and PostgreSQL: nobody forgotten, suggestions that
work as pasted, nothing stale, no dead ends.

- An alert for roles nobody holds reaches the directory's admins; when there is none either, the case says
  so first on its sheet (with the `assign_role` to paste), `crisis stuck` and the Prometheus gauges list it,
  and seating the head ends it.
- The sheet's suggestions name only people seated on the case or the directory's active candidates for
  the seat, as the Web UI's editor leaves JSON, and change when the seating does.
- A closed case's sheet is a closing summary; a misspelt action gets "did you mean"; an accepted update's
  answer says what changed; the crisis path takes a free-text progress note; a closed case can be
  re-opened as a new, linked case (an open or unknown case cannot), counted in the metrics.
"""

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata

from activities.directory import save_person
from activities.gauges import business_gauges
from activities.metrics import compute_metrics
from crisisdesk.models.case import Stage
from crisisdesk.models.metrics import MetricsQuery
from crisisdesk.models.people import Person
from starter import client as cases
from starter.api import create_app
from starter.stuck import find_stuck
from tests.helpers import eventually
from tests.helpers.fixtures import Case

pytestmark = pytest.mark.asyncio(loop_scope="session")
NO_TEAM = {"roles": {}}
JSON_BLOCK = re.compile(r"```json\n(\{\n.*?\n\})\n```", re.S)


async def sheet(case) -> str:
    meta = await case.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return meta.current_details


async def sheet_when(case, ok) -> str:
    return await eventually(lambda: sheet(case), ok, timeout=20)


def project() -> dict:
    return {"id": f"P-{uuid.uuid4().hex[:8]}", "name": "No team yet", "region": f"r-{uuid.uuid4().hex[:6]}"}


def blocks(text: str) -> list[dict]:
    """The JSON the sheet offers to paste, each exactly as the Web UI's editor would leave it."""
    found = [json.loads(b) for b in JSON_BLOCK.findall(text)]
    for raw, value in zip(JSON_BLOCK.findall(text), found):
        assert raw == json.dumps(value, ensure_ascii=False, indent=2), raw
    return found


# -- 1. nobody forgotten ---------------------------------------------------------------------------------------
async def test_an_alert_nobody_holds_reaches_an_admin_and_the_sheet_says_to_seat_the_head(open_case, pool):
    admin = f"admin-{uuid.uuid4().hex[:6]}"
    await save_person(pool, Person(person_id=admin, display_name="Admin on call", roles=["admin"]))
    try:
        case = await open_case(potential_crisis=True, project=project(), **NO_TEAM)
        alert = (await case.wait_for("notification", "alert"))[0]
        assert alert.detail["unresolved"] == ["head", "regional_cs"] and admin in alert.detail["people"]
        text = await sheet_when(case, lambda t: "reached only" in t)
        first_lines = text.split("\n\n")[2]
        assert "seat the head now" in first_lines and "reached only" in first_lines, text
        assert (await case.status()).unreached == []  # reached someone: not an unreached alert
    finally:  # the session's directory, as other tests find it
        await pool.execute("UPDATE people SET disabled_at = now() WHERE person_id = $1", admin)


async def test_an_alert_that_reaches_no_one_leads_the_sheet_and_is_listed_until_the_head_is_seated(
        open_case, pool, client, settings):
    disabled = [r["person_id"] for r in await pool.fetch(
        "UPDATE people SET disabled_at = now() WHERE 'admin' = ANY(roles) AND disabled_at IS NULL RETURNING person_id")]
    try:
        head = f"head-{uuid.uuid4().hex[:6]}"
        place = project()
        await save_person(pool, Person(person_id=head, display_name="A head", roles=["head"], projects=[place["id"]]))
        case = await open_case(potential_crisis=True, project=place, **NO_TEAM)
        alert = (await case.wait_for("notification", "alert"))[0]
        assert "people" not in alert.detail and alert.detail["unresolved"] == ["head", "regional_cs"]
        status = await eventually(case.status, lambda s: s.unreached)
        assert status.unreached == ["head", "regional_cs"]
        text = await sheet_when(case, lambda t: "Nobody was alerted" in t)
        assert text.split("\n\n")[2].startswith("**Nobody was alerted — seat the head now.**"), text
        paste = blocks(text)[0]
        assert paste["role"] == "head" and paste["person"] == head and paste["by"] != head  # nobody seats themselves

        rows = await find_stuck(client, where=f"WorkflowId = '{case.id}'")
        assert [r.reason for r in rows] == ["unreached"] and "assign_role head" in rows[0].unstick
        gauges = await eventually(lambda: business_gauges(pool), lambda g: case.id in g.unreached_cases, timeout=20)
        assert case.id in gauges.unreached_cases
        app = create_app(settings, client)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            text = (await http.get("/metrics")).text
        assert f'crisis_unreached_alert{{case_id="{case.id}"}} 1.0' in text and "crisis_unreached_alert_cases " in text

        answer = await case.act("assign_role", **{**paste, "by": paste["by"] or "Li Admin"})
        assert f"head is {head}" in answer.message
        assert (await case.status()).unreached == []
        assert "Nobody was alerted" not in await sheet_when(case, lambda t: "Nobody was alerted" not in t)
        assert not [r for r in await find_stuck(client, where=f"WorkflowId = '{case.id}'") if r.reason == "unreached"]
    finally:
        await pool.execute("UPDATE people SET disabled_at = NULL WHERE person_id = ANY($1)", disabled)


# -- 2. suggestions that work as pasted ----------------------------------------------------------------------
async def test_suggestions_name_seated_people_or_active_candidates_and_follow_the_seating(open_case, pool):
    place = project()
    cand, gone = f"cs-{uuid.uuid4().hex[:6]}", f"aaa-gone-{uuid.uuid4().hex[:6]}"
    await save_person(pool, Person(person_id=cand, display_name="CS candidate", roles=["cs_owner"], projects=[place["id"]]))
    await save_person(pool, Person(person_id=gone, display_name="Left", roles=["cs_owner"], projects=[place["id"]]))
    await pool.execute("UPDATE people SET disabled_at = now() WHERE person_id = $1", gone)
    case = await open_case(project=place, **NO_TEAM)
    text = await sheet(case)
    assert gone not in text and "Chen" not in text and "Zhang" not in text
    triage = blocks(text)[0]
    assert triage["by"] == cand
    answer = await case.act("triage", **triage)  # pasted as it stands: accepted, and the candidate took the seat
    assert answer.accepted and (await case.status()).roles["cs_owner"] == cand

    case = await open_case(project=place, **NO_TEAM)
    assert blocks(await sheet(case))[0]["by"] == cand
    await case.act("assign_role", by="Li Admin", role="cs_owner", person="Seated Sun")
    assert blocks(await sheet_when(case, lambda t: "Seated Sun" in t))[0]["by"] == "Seated Sun"


# -- 3. nothing stale ----------------------------------------------------------------------------------------
async def test_relative_figures_say_as_of_and_a_closed_case_is_a_summary(open_case):
    case = await open_case(potential_crisis=True)
    text = (await sheet(case)).split("**Last events**")[0]
    due_lines = [line for line in text.splitlines() if line.startswith("- ") and " due " in line]
    assert due_lines and all(re.search(r"left, as of \d\d:\d\d\)|BREACHED", line) for line in due_lines), text
    await case.act("cancel", by="Wang Head", reason="false alarm")
    text = await sheet_when(case, lambda t: "Closing summary" in t)
    assert "**Deadlines**" not in text and "Nobody named for" not in text and "due " not in text.split("**Last events**")[0]
    assert "cancelled by Wang Head: false alarm" in text and "Took " in text and "Satisfaction" in text
    assert f"crisis case reopen {case.id}" in text


async def test_a_reviewed_case_closes_with_satisfaction_and_review(open_case):
    from tests.helpers.stories import ordinary

    case = await open_case()
    await ordinary(case, score=4)
    text = await sheet_when(case, lambda t: "Closing summary" in t)
    assert "Satisfaction: 4/5" in text and "Review: cause Worn door sensor" in text and "Whose turn" not in text


# -- 5. no dead ends -----------------------------------------------------------------------------------------
async def test_a_misspelt_action_gets_did_you_mean_and_the_open_actions_everywhere(open_case, client):
    case = await open_case()
    reason = await case.refused("triag", by="Chen CS")
    assert "did you mean `triage`" in reason and "open actions: triage" in reason
    with pytest.raises(cases.UnknownAction) as err:
        await cases.act(client, case.id, "triag", {"by": "Chen CS"})
    assert "did you mean `triage`" in str(err.value) and "open actions: triage" in str(err.value)


async def test_an_accepted_update_says_what_changed(open_case):
    case = await open_case(potential_crisis=True)
    answer = await case.act("acknowledge", by="Wang Head")
    assert "stage alerting → planning" in answer.message and "met " in answer.message


async def test_the_crisis_path_takes_a_free_text_progress_note(open_case):
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by="Wang Head")
    await case.act("decide_plan", by="Wang Head", summary="Build a shelter", department="engineering")
    await case.act("customer_contacted", by="Chen CS", channel="phone")
    await case.act("customer_answer", by="Chen CS", satisfied=True)
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.act("progress_reported", by="Chen CS", milestone="防护棚已搭好")
    await case.act("progress_reported", by="Chen CS", progress="屋面已修复一半")
    notes = [e.detail.get("progress") for e in await case.events("action", "progress_reported")]
    assert notes == ["防护棚已搭好", "屋面已修复一半"]


async def test_a_closed_case_reopens_as_a_linked_case_and_open_or_unknown_ones_are_refused(
        open_case, client, settings, pool):
    case = await open_case()
    with pytest.raises(cases.ActionRejected, match=r"is open \(reported\)"):
        await cases.reopen_case(client, case.id, settings)
    with pytest.raises(cases.CaseNotFound, match="does not exist"):
        await cases.reopen_case(client, "crisis-never-was", settings)
    await case.act("cancel", by="Wang Head", reason="customer withdrew")
    await case.handle.result()
    with pytest.raises(cases.ActionRejected, match="crisis case reopen"):
        await cases.act(client, case.id, "note", {"by": "Chen CS", "text": "called again"})

    started = await cases.reopen_case(client, case.id, settings)
    assert started.case_id == f"{case.id}.r1" and started.created
    new = Case(case.env, client.get_workflow_handle(started.case_id))
    status = await new.status()
    assert status.reopens == case.id and status.stage == Stage.reported and status.roles["head"] == "Wang Head"
    text = await sheet(new)
    assert f"Re-opens {case.id}" in text and "customer withdrew" not in text
    assert "stage: cancelled" in text  # the old case's last events
    assert [e.name for e in await new.events("reopened")] == [case.id]
    again = await cases.reopen_case(client, case.id, settings)
    assert again.case_id == f"{case.id}.r2"
    # The matching action, sent to the closed case through an edge (the API's route, `crisis act`).
    answer = await cases.act(client, case.id, "reopen", {"by": "Chen CS"}, settings=settings)
    assert answer.accepted and answer.detail["case_id"] == f"{case.id}.r3" and "re-opened" in answer.message
    # Sent to an open case, it is refused, naming the stage.
    assert f"{new.id} is open (reported)" in await new.refused("reopen", by="Chen CS")

    now = datetime.now(timezone.utc)
    async def after_closing() -> int:
        report = await compute_metrics(pool, MetricsQuery(since=now - timedelta(days=400), until=now + timedelta(days=400)))
        return report.reopenings.after_closing
    assert await eventually(after_closing, lambda n: n >= 3, timeout=20) >= 3


# -- 6. the small things -------------------------------------------------------------------------------------
async def test_every_route_has_its_own_operation_id():
    spec = create_app().openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


async def test_crisis_case_reopen_from_the_command_line(open_case, temporal_env, task_queue):
    import asyncio

    from typer.testing import CliRunner

    from starter.cli import app

    env = {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host, "CRISIS_TASK_QUEUE": task_queue,
           "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}

    def reopen(case_id: str):
        return CliRunner().invoke(app, ["case", "reopen", case_id], env=env)

    missing = await asyncio.to_thread(reopen, "crisis-never-was")
    assert missing.exit_code == 3 and "does not exist: nothing to reopen" in missing.stderr, missing.stderr
    case = await open_case()
    still_open = await asyncio.to_thread(reopen, case.id)
    assert still_open.exit_code == 4 and "is open (reported)" in still_open.stderr, still_open.stderr
    assert len(still_open.stderr.strip().splitlines()) == 1
    await case.act("cancel", by="Wang Head", reason="duplicate")
    await case.handle.result()
    done = await asyncio.to_thread(reopen, case.id)
    assert done.exit_code == 0 and f"reopened: {case.id}.r1" in done.output, (done.output, done.stderr)


async def test_the_docs_point_to_docs_contract_md_and_say_each_thing_once():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("README.md", "worker.py", "crisisdesk/settings.py", "crisisdesk/models/actions.py"):
        assert "CONTRACT.md" not in (root / name).read_text(), f"{name} points to CONTRACT.md: it is docs/contract.md"
    deploy = (root / "docs" / "deploy.md").read_text()
    assert deploy.count("decisions for the events already recorded") == 1
