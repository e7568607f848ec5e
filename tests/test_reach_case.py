"""Issue 10's "done when": a crisis intake for a project with a team and a roster, naming no roles,
alerts the people on duty through the chat robots and SMS (loopback doubles that check each request),
a reminder after the hand-over goes to the new person, the escalation reaches the deputy, and the
acknowledgement link in the alert stops it; used, expired and forged links are refused (4xx), and
recorded on the case when it is known. Real Temporal (time skipping), PostgreSQL, API and CLI."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from typer.testing import CliRunner

from activities.directory import save_person
from crisisdesk.acklinks import make_token
from crisisdesk.models.case import Stage
from crisisdesk.models.people import Person
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.cli import app as cli
from tests.conftest import STAMP_KEY
from tests.helpers import eventually
from tests.helpers.fixtures import Case

ACK_SECRET = "ack-case-secret"


@pytest.fixture
def settings(dsn, tmp_path, task_queue, doubles) -> Settings:  # the worker's Notifier reaches the doubles
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_ACK_SECRET=ACK_SECRET,
                    CRISIS_PUBLIC_URL="http://desk.test", CRISIS_STAMP_KEY=STAMP_KEY, **doubles.env())


def cli_run(dsn: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})


async def test_team_roster_channels_escalation_and_an_acknowledgement_link(temporal_env, client, worker, settings,
                                                                           pool, dsn, doubles, tmp_path):
    tag = uuid.uuid4().hex[:6]
    head, deputy, ann, bo = (f"{n}-{tag}" for n in ("head", "deputy", "ann", "bo"))
    for person in (head, deputy, ann, bo):
        await save_person(pool, Person(person_id=person, display_name=person.title()))
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        for person, contacts in [(head, [{"channel": "wecom", "address": "13811110001"}]),
                                 (ann, [{"channel": "sms", "address": "+8613811110002"}]),
                                 (bo, [{"channel": "dingtalk", "address": "13811110003"},
                                       {"channel": "sms", "address": "+8613811110003"}])]:
            assert (await http.put(f"/people/{person}/contacts", json=contacts)).status_code == 200
        bad = await http.put(f"/people/{ann}/contacts", json=[{"channel": "pager", "address": "1"}])
        assert bad.status_code == 422 and "channel" in bad.json()["message"]
        added = await asyncio.to_thread(cli_run, dsn, "users", "contact", deputy, "--channel", "feishu",
                                        "--address", f"ou_{tag}")
        assert added.exit_code == 0, added.output

        # The roster: ann until 45 minutes from now, then bo. A gap is refused and nothing is stored.
        now = datetime.now(timezone.utc).replace(microsecond=0)
        handover = now + timedelta(minutes=45)
        shifts = [{"person": ann, "start": (now - timedelta(days=1)).isoformat(), "end": handover.isoformat()},
                  {"person": bo, "start": handover.isoformat(), "end": (now + timedelta(days=30)).isoformat()}]
        roster = f"cs-{tag}"
        gap = await http.put(f"/rosters/{roster}", json={"shifts": [shifts[0], {**shifts[1], "start": (
            handover + timedelta(minutes=1)).isoformat()}]})
        assert gap.status_code == 422 and "shifts: a gap from" in gap.json()["message"]
        assert (await http.get(f"/rosters/{roster}")).status_code == 404
        assert (await http.put(f"/rosters/{roster}", json={"shifts": shifts})).status_code == 200
        later = (await http.get(f"/rosters/{roster}", params={"at": (handover + timedelta(minutes=1)).isoformat()})).json()
        assert later["on_duty"] == bo
        project = f"P-{tag}"
        unknown = await http.put(f"/projects/{project}/team", json={"regional_cs": {"roster": "no-such-roster"}})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "regional_cs", "roster"]
        team = {"head": {"person": head, "deputy": deputy}, "regional_cs": {"roster": roster, "deputy": deputy}}
        assert (await http.put(f"/projects/{project}/team", json=team)).status_code == 200
        shown = await asyncio.to_thread(cli_run, dsn, "oncall", "show", "regional_cs", "--project", project,
                                        "--at", now.isoformat())
        assert shown.exit_code == 0 and shown.output.strip().endswith(f": {ann}"), shown.output

        # A crisis intake naming no roles: the head and the person on duty are alerted on every channel.
        opened = await http.post("/intakes", json={"intake_id": f"reach-{tag}", "channel": "phone",
                                                   "summary": "Leak in the lobby", "potential_crisis": True,
                                                   "project": {"id": project}})
        case_id = opened.json()["case_id"]
        case = Case(temporal_env, client.get_workflow_handle(case_id))
        alert = (await case.wait_for("notification", "alert"))[0]
        assert alert.detail["people"] == [head, ann] and {"wecom", "sms"} <= set(alert.detail["channels"])
        assert any("Potential crisis" in r.text for r in doubles.to("13811110001"))
        assert any("Potential crisis" in r.text for r in doubles.to("+8613811110002"))

        # Nobody acknowledges: breach, reminders (the one after the hand-over goes to bo), escalation.
        await case.skip(minutes=125)
        escalated = (await case.wait_for("notification", "escalated"))[0]
        reminders = await case.events("notification", "reminder")
        after = [e for e in reminders if e.at >= handover]
        assert after and all(bo in e.detail["people"] and ann not in e.detail["people"] for e in after)
        assert deputy in escalated.detail["people"] and doubles.to(f"ou_{tag}")
        assert "13811110003" not in str(await case.timeline())  # channels on the timeline, never addresses
        assert doubles.rejected == []  # every request had the vendor's shape and signature

        # bo opens the link in the DingTalk message (a page, nothing changes) and presses its button:
        # the escalation stops.
        text = doubles.to("13811110003")[-1].text
        token = re.search(r"http://desk\.test/ack/(\S+)", text).group(1)
        page = await http.get(f"/ack/{token}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "escalation sent" in page.text and bo in page.text, page.text
        assert (await case.status()).stage == Stage.alerting
        acked = await http.post(f"/ack/{token}")
        assert acked.status_code == 200, acked.text
        status = await case.status()
        assert status.stage != Stage.alerting and "alert_acknowledgement" not in {d.name for d in status.deadlines}
        action = [e for e in await case.events("action") if e.name == "acknowledge"][0]
        assert (action.by, action.detail["via"], action.detail["identity"]) == (bo, "link", bo)

        reused = await http.post(f"/ack/{token}")
        assert reused.status_code == 409 and reused.json()["reason"] == "used"
        forged = await http.get(f"/ack/{token[:-2]}xx")
        assert forged.status_code == 403 and "signature does not match" in forged.json()["detail"]
        expired = make_token(ACK_SECRET, bo, case_id, datetime.now(timezone.utc) - timedelta(seconds=1), "old")
        assert (await http.get(f"/ack/{expired}")).status_code == 410  # said, not recorded: a GET changes nothing
        gone = await http.post(f"/ack/{expired}")
        assert gone.status_code == 410 and gone.json()["reason"] == "expired"
        refusals = await eventually(lambda: case.events("rejected"), lambda found: len(found) >= 2)
        assert {e.detail.get("via") for e in refusals} == {"link"}
        assert any("used already" in str(e.detail) for e in refusals) and any("expired" in str(e.detail) for e in refusals)


async def test_a_second_owner_reporting_the_same_leak_joins_the_open_case(temporal_env, client, worker, settings, pool):
    tag = uuid.uuid4().hex[:6]
    app = create_app(settings, client)

    def intake(n: str, location: str) -> dict:
        return {"intake_id": f"group-{tag}-{n}", "channel": "phone", "summary": "Water through the ceiling",
                "category": "technical", "location": location, "project": {"id": f"P-G-{tag}"},
                "reporter": {"name": f"Owner {n}", "contact": f"owner{n}@example.com"}}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        first = await http.post("/intakes", json=intake("1", "Block 3, unit 1201"))
        assert first.status_code == 201
        case_id = first.json()["case_id"]
        await eventually(lambda: pool.fetchval("SELECT 1 FROM cases WHERE case_id = $1", case_id), bool)
        again = await http.post("/intakes", json={**intake("2", "block 3,  Unit 1201"), "channel": "owner_group"})
        assert again.status_code == 200 and again.json()["case_id"] == case_id and again.json()["joined"] is True
        repeated = await http.post("/intakes", json={**intake("2", "block 3,  Unit 1201"), "channel": "owner_group"})
        assert repeated.json()["case_id"] == case_id  # the same report twice is still one reporter
        elsewhere = await http.post("/intakes", json=intake("3", "Block 9, garage"))
        assert elsewhere.status_code == 201 and elsewhere.json()["case_id"] != case_id
        status = (await http.get(f"/cases/{case_id}")).json()
        assert [r["intake_id"] for r in status["reporters"]] == [f"group-{tag}-2"]
        assert "owner2@example.com" not in str(status["reporters"])  # reporters without contacts
        assert not [w async for w in client.list_workflows(f"WorkflowId = 'crisis-group-{tag}-2'")]  # no second case
