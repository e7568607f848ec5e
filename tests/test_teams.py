"""Alerts reach real people (issue 10): project teams from the directory fill a case's roles, and a
notification to a role goes to whoever holds it, the deputy once escalated, never to a role name.
Real PostgreSQL, Temporal and SMTP (aiosmtpd) on loopback."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr
from typer.testing import CliRunner

from activities.directory import save_person
from activities.notify import Notifier
from activities.teams import set_contact
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.people import Person
from starter.api import create_app
from starter.cli import app as cli
from tests.helpers import eventually
from tests.test_activities_notify import smtp  # noqa: F401  (the fixture: a real SMTP server)


async def staff(pool, *roles: str) -> dict[str, str]:
    """One directory person per role, each with an e-mail address; role → person id."""
    suffix = uuid.uuid4().hex[:6]
    ids = {}
    for role in roles:
        person = f"{role.replace(':', '-')}-{suffix}"
        await save_person(pool, Person(person_id=person, display_name=f"{role.title()} {suffix}",
                                       roles=["admin"] if role == "admin" else [role.split(":")[0]]))
        await set_contact(pool, person, f"{person}@staff.test")
        ids[role] = person
    return ids


async def test_a_team_names_directory_people_and_fills_the_roles_of_its_cases(client, worker, settings, pool, dsn):
    people = await staff(pool, "head", "regional_cs", "deputy")
    project = f"P-T-{uuid.uuid4().hex[:6]}"
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        unknown = await http.put(f"/projects/{project}/team", json={"head": people["head"], "regional_cs": "nobody-x"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "regional_cs", "person"]
        assert (await http.get(f"/projects/{project}/team")).json() == {}  # nothing half-changed
        bad_role = await http.put(f"/projects/{project}/team", json={"chief": people["head"]})
        assert bad_role.status_code == 422 and "unknown role 'chief'" in bad_role.json()["message"]

        team = {"head": people["head"], "regional_cs": {"person": people["regional_cs"], "deputy": people["deputy"]}}
        assert (await http.put(f"/projects/{project}/team", json=team)).status_code == 200
        shown = await asyncio.to_thread(CliRunner().invoke, cli, ["projects", "show", project, "--json"],
                                        env={"DATABASE_URL": dsn})  # the CLI runs its own event loop
        assert shown.exit_code == 0 and people["deputy"] in shown.output, shown.output

        opened = await http.post("/intakes", json={"intake_id": f"team-{uuid.uuid4().hex[:6]}", "channel": "phone",
                                                   "summary": "Leak in the lobby", "potential_crisis": True,
                                                   "project": {"id": project}})
        status = await eventually(lambda: http.get(f"/cases/{opened.json()['case_id']}"), lambda r: r.status_code == 200)
        assert status.json()["roles"]["head"] == people["head"]
        assert status.json()["roles"]["regional_cs"] == people["regional_cs"]


async def test_a_role_reaches_its_holder_the_deputy_once_escalated_and_the_admins_when_nobody_holds_it(
        pool, settings, smtp):  # noqa: F811
    inbox, url = smtp
    people = await staff(pool, "head", "regional_cs", "deputy", "admin")
    project = f"P-R-{uuid.uuid4().hex[:6]}"
    await pool.execute("INSERT INTO project_teams (project_id, role, person_id, deputy_id) VALUES ($1, $2, $3, $4)",
                       project, "regional_cs", people["regional_cs"], people["deputy"])
    notifier = Notifier(pool, settings.model_copy(update={"smtp_url": SecretStr(url)}))

    def alert(level: int) -> Notification:
        return Notification(key=f"{project}:{uuid.uuid4().hex[:6]}", case_id="crisis-team-test", kind="breach",
                            subject="first_contact breached", body="Call the customer now.", at=datetime.now(UTC),
                            recipients=[Recipient(role="head", person=people["head"]), Recipient(role="regional_cs"),
                                        Recipient(role="spokesperson")],
                            project_id=project, escalation_level=level)

    seen = len(inbox.messages)
    first = await notifier.notify(alert(0))
    assert first.people == [people["head"], people["regional_cs"], people["admin"]]
    assert first.unresolved == ["spokesperson"]
    sent_to = {address for message in inbox.messages[seen:] for address in message[1]}  # one e-mail per person
    assert sent_to == {f"{p}@staff.test" for p in first.people}  # addresses, never a role name
    seen = len(inbox.messages)
    escalated = await notifier.notify(alert(1))
    assert people["deputy"] in escalated.people
    assert f"{people['deputy']}@staff.test" in {a for message in inbox.messages[seen:] for a in message[1]}
