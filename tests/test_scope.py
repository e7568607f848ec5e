"""Access scoped to projects and regions, and personal data only for `personal:read` (issue 21).

Over HTTP with personal tokens and through the CLI with CRISIS_AUTH=tokens, against real cases: an
operator of one region reads, acts on and lists that region's cases only; another region's case is
answered exactly as a case that does not exist, and nothing of the attempt reaches it. A caller
without `personal:read` sees no reporter's or stakeholder's contact, no concerns, no survey comment.
"""

import asyncio
import json
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from crisisdesk.models.case import CaseStatus, TimelineEvent
from starter.api import create_app
from starter.auth import LOCAL
from starter.cli import app as cli
from starter.redaction import REDACTED, redact_events, redact_status
from starter.scope import visibility_clause
from tests.helpers import eventually
from tests.helpers.activity_samples import make_status
from tests.helpers.directory import add_user

CONTACT, CONCERNS = "+86 139 1234 5678", "wants 30000 yuan back before the holiday"
REPORTER = "zhang.san@example.com"  # the open_case fixture's reporter


@pytest.fixture
def people(dsn):
    """Add them (the CLI runs its own event loop, as for an admin: call it in a thread)."""
    def add() -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
        suffix = uuid.uuid4().hex[:6]
        who = {k: f"{k}-{suffix}" for k in ("east", "p9", "head", "boss", "loose")}
        tokens = {"east": add_user(dsn, who["east"], "--role", "operator", "--region", "east"),
                  "p9": add_user(dsn, who["p9"], "--role", "operator", "--project", "P-9"),
                  "head": add_user(dsn, who["head"], "--role", "head", "--region", "east"),
                  "boss": add_user(dsn, who["boss"], "--role", "manager", "--region", "nowhere"),
                  "loose": add_user(dsn, who["loose"], "--role", "operator")}
        return who, {k: {"Authorization": f"Bearer {t}"} for k, t in tokens.items()}, tokens

    return add


async def test_an_operator_of_one_region_cannot_reach_another_regions_case(open_case, client, settings, people, pool):
    who, bearer, _ = await asyncio.to_thread(people)
    east = await open_case()  # project P-7, region east
    west = await open_case(project={"id": "P-9", "name": "West Park", "region": "west"})
    await east.act("add_stakeholder", by="Chen CS", name="Owner Li", contact=CONTACT, concerns=CONCERNS)
    await east.wait_for("stakeholder_stored")
    app = create_app(settings.model_copy(update={"auth": "tokens"}), client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        async def get(path: str, caller: str) -> httpx.Response:
            return await http.get(path, headers=bearer[caller])

        assert (await get(f"/cases/{east.id}", "east")).status_code == 200
        nobody = await get("/cases/crisis-nobody-here", "east")
        for path in (f"/cases/{west.id}", f"/cases/{west.id}/timeline"):
            hidden = await get(path, "east")
            assert hidden.status_code == 404
            assert hidden.json()["detail"] == nobody.json()["detail"].replace("crisis-nobody-here", west.id)
        acted = await http.post(f"/cases/{west.id}/actions/note", headers=bearer["east"], json={"text": "peek"})
        big = await http.post(f"/cases/{west.id}/actions/note", headers=bearer["east"], json={"text": "x" * 200_000})
        upload = await http.post(f"/cases/{west.id}/evidence", headers=bearer["east"], content=b"photo",
                                 params={"by": who["east"], "kind": "photo", "description": "x"})
        assert (acted.status_code, big.status_code, upload.status_code) == (404, 404, 404)
        # The project-scoped operator sees the west case (P-9) and not the east one; a manager sees both;
        # an entry with no scope sees all by default.
        assert (await get(f"/cases/{west.id}", "p9")).status_code == 200
        assert (await get(f"/cases/{east.id}/timeline", "p9")).status_code == 404
        assert {(await get(f"/cases/{c.id}", "boss")).status_code for c in (east, west)} == {200}
        assert (await get(f"/cases/{west.id}", "loose")).status_code == 200
        assert (await http.post(f"/cases/{west.id}/actions/note", headers=bearer["p9"], json={"text": "mine"})).status_code == 200

        # Without personal:read: no contact, no concerns, anywhere in the answers.
        operator = (await get(f"/cases/{east.id}", "east")).text + (await get(f"/cases/{east.id}/timeline", "east")).text
        head = (await get(f"/cases/{east.id}", "head")).text + (await get(f"/cases/{east.id}/timeline", "head")).text
    for secret in (CONTACT, CONCERNS, REPORTER):
        assert secret not in operator, secret
    whole = json.dumps([e.model_dump(mode="json") for e in await east.record(pool)], ensure_ascii=False)
    # The head (personal:read) gets the record as it is: what the case keeps in it today (concerns, the
    # reporter's address on a notification) stays; the operator above got none of it.
    assert all(secret in head for secret in (CONTACT, CONCERNS, REPORTER) if secret in whole)
    # Nothing of the out-of-scope attempts reached the west case.
    await west.wait_for("action", "note")
    assert not await west.events("rejected") and not [e for e in await west.events("action") if e.by == who["east"]]
    assert not await pool.fetch("SELECT 1 FROM evidence_uploads WHERE case_id = $1", west.id)


async def test_unscoped_people_see_nothing_when_told_so(open_case, client, settings, people):
    _, bearer, _ = await asyncio.to_thread(people)
    case = await open_case()
    strict = create_app(settings.model_copy(update={"auth": "tokens", "access_unscoped": "none"}), client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://api") as http:
        assert (await http.get(f"/cases/{case.id}", headers=bearer["loose"])).status_code == 404
        assert (await http.get(f"/cases/{case.id}", headers=bearer["east"])).status_code == 200
        assert (await http.get(f"/cases/{case.id}", headers=bearer["boss"])).status_code == 200  # a manager


async def test_the_cli_scopes_and_redacts_as_the_api_does(open_case, temporal_env, task_queue, dsn, people):
    who, _, tokens = await asyncio.to_thread(people)
    east = await open_case()
    west = await open_case(project={"id": "P-9", "name": "West Park", "region": "west"})
    await east.act("add_stakeholder", by="Chen CS", name="Owner Li", contact=CONTACT, concerns=CONCERNS)
    await east.wait_for("stakeholder_stored")
    env = {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host, "CRISIS_TASK_QUEUE": task_queue,
           "DATABASE_URL": dsn, "CRISIS_AUTH": "tokens", "CRISIS_DEBUG": "", "INTAKE_TOKEN": ""}

    def crisis(caller: str, *args: str):
        return CliRunner().invoke(cli, list(args), env=env | {"CRISIS_TOKEN": tokens[caller]})

    shown = await asyncio.to_thread(crisis, "east", "timeline", east.id, "--json")
    status = await asyncio.to_thread(crisis, "east", "status", east.id, "--json")
    assert shown.exit_code == 0 and status.exit_code == 0, (shown.stderr, status.stderr)
    for secret in (CONTACT, CONCERNS, REPORTER):
        assert secret not in shown.stdout + status.stdout
    for command in ("status", "timeline"):
        hidden = await asyncio.to_thread(crisis, "east", command, west.id)
        assert hidden.exit_code == 3 and f"case {west.id} does not exist" in hidden.stderr
    acted = await asyncio.to_thread(crisis, "east", "act", west.id, "note", '{"text": "peek"}')
    assert acted.exit_code == 3

    queue = f"TaskQueue = '{task_queue}'"

    async def listed(caller: str) -> set[str]:
        result = await asyncio.to_thread(crisis, caller, "stuck", "--idle-hours", "0", "--json", "--where", queue)
        assert result.exit_code == 0, result.stderr
        return {row["case_id"] for row in json.loads(result.stdout)}

    await eventually(lambda: listed("boss"), lambda ids: ids == {east.id, west.id}, timeout=15)
    assert await listed("east") == {east.id} and await listed("p9") == {west.id}
    assert not await west.events("rejected")

    # The report (from PostgreSQL) and the metrics ask the same.
    report = await eventually(lambda: asyncio.to_thread(crisis, "east", "report", east.id), lambda r: r.exit_code == 0)
    assert east.id in report.stdout and CONCERNS not in report.stdout and REPORTER not in report.stdout
    assert (await asyncio.to_thread(crisis, "east", "report", west.id)).exit_code == 3
    figures = await asyncio.to_thread(crisis, "east", "metrics", "--json")
    assert figures.exit_code == 4 and "reports:read" in figures.stderr
    assert (await asyncio.to_thread(crisis, "boss", "metrics", "--json")).exit_code == 0


def test_redaction_masks_personal_fields_and_keeps_who_acted():
    status = make_status("crisis-r1", summary="Leak; call Zhang at 13912345678 or zhang@example.com",
                         roles={"head": "wang", "cs_owner": "chen"})
    clean = redact_status(status)
    assert "13912345678" not in clean.summary and "zhang@example.com" not in clean.summary
    assert clean.roles == status.roles and clean.case_id == status.case_id
    events = [TimelineEvent(seq=1, at=status.updated_at, kind="notification", name="acknowledgement",
                            detail={"people": ["Zhang Wei <+8613912345678>", "wang"], "roles": ["reporter"]}),
              TimelineEvent(seq=2, at=status.updated_at, kind="action", name="survey_response", by="chen",
                            detail={"score": 2, "comment": "the plumber was rude to my mother", "via": "http",
                                    "identity": "chen"}),
              TimelineEvent(seq=3, at=status.updated_at, kind="action", name="add_stakeholder", by="chen",
                            detail={"concerns": CONCERNS, "key_contact": True, "contact": CONTACT,
                                    "sha256": "ab13912345678cd" * 4})]
    people, survey, stakeholder = redact_events(events)
    assert people.detail["people"] == [REDACTED, "wang"]
    assert survey.detail == {"score": 2, "comment": REDACTED, "via": "http", "identity": "chen"} and survey.by == "chen"
    assert stakeholder.detail["concerns"] == REDACTED and stakeholder.detail["contact"] == REDACTED
    assert stakeholder.detail["key_contact"] is True and stakeholder.detail["sha256"] == events[2].detail["sha256"]
    assert visibility_clause(LOCAL) is None
    assert isinstance(clean, CaseStatus)


def test_users_add_takes_a_scope_and_names_a_bad_one(dsn):
    env = {"DATABASE_URL": dsn, "CRISIS_DEBUG": ""}
    person = f"scoped-{uuid.uuid4().hex[:6]}"
    added = CliRunner().invoke(cli, ["users", "add", person, "--role", "operator", "--project", "P-1",
                                     "--project", "P-2", "--region", "east"], env=env)
    assert added.exit_code == 0 and "projects P-1, P-2; regions east" in added.output, added.output
    listed = CliRunner().invoke(cli, ["users", "list", "--json"], env=env)
    [me] = [p for p in json.loads(listed.stdout) if p["person_id"] == person]
    assert (me["projects"], me["regions"]) == (["P-1", "P-2"], ["east"])
    bad = CliRunner().invoke(cli, ["users", "add", person, "--role", "operator", "--project", "P'1"], env=env)
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --project:") and len(bad.stderr.splitlines()) == 1
