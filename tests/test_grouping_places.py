"""Group complaints that find each other (issue 27): reports match on project, category and the building
(or batch) read from `location` or a structured `unit`, at the playbook's threshold; `crisis case link` and
`unlink` correct a match, on the timeline."""

import asyncio
import json
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from crisisdesk.location import Place, parse_place, place_of, same_place
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import PlaybookError, load_playbook, parse_playbook
from starter.api import create_app
from starter.cli import app as cli
from starter.grouping import matches
from tests.helpers import eventually


@pytest.mark.parametrize("written, place", [
    ("3栋2单元201", Place(building="3", entrance="2", flat="201")),
    ("二期3号楼1单元502室", Place(phase="2", building="3", entrance="1", flat="502")),
    ("三号楼二单元", Place(building="3", entrance="2")),
    ("Building 3, unit 201", Place(building="3", flat="201")),
    ("Block B, Flat 1203", Place(building="B", flat="1203")),
    ("3-2-201", Place(building="3", entrance="2", flat="201")),
    ("第2批交付", Place(batch="2")),
    ("Riverside Phase II, batch 3", Place(phase="2", batch="3")),
    ("the sales office", Place()),
])
def test_places_are_read_as_people_write_them(written, place):
    assert parse_place(written) == place


def test_the_threshold_decides_how_close_two_reports_must_be():
    def intake(location=None, unit=None):
        return Intake(intake_id="x", summary="leak", location=location, unit=unit)

    one, other = place_of("3栋2单元201"), place_of(None, "3-1-1502")
    assert same_place(one, other, "building") and not same_place(one, other, "entrance")
    assert same_place(one, place_of("3栋2单元902"), "entrance")
    assert not same_place(one, place_of("5栋"), "building") and same_place(one, place_of("5栋"), "project")
    assert not same_place(place_of("一期3栋"), place_of("二期3栋"), "building")  # another phase, another building
    assert same_place(place_of("第2批交付"), place_of("batch 2 handover"), "building")
    # Unreadable places fall back to the same words; `location` asks for the same words always.
    assert matches(intake("Sales office"), Place(), " sales  OFFICE", Place(), "building")
    assert not matches(intake("3栋201"), place_of("3栋201"), "3栋1502", place_of("3栋1502"), "location")
    with pytest.raises(PlaybookError, match="grouping.match"):
        playbook = load_playbook("delivery").model_dump(mode="json")
        parse_playbook(json.dumps({**playbook, "grouping": {"match": "street"}}))


async def test_two_owners_of_one_building_join_one_case_and_a_wrong_match_is_undone(temporal_env, client, worker,
                                                                                     settings, pool, task_queue):
    tag = uuid.uuid4().hex[:6]

    def intake(n: str, **where) -> dict:
        return {"intake_id": f"bldg-{tag}-{n}", "channel": "phone", "summary": "卫生间天花板漏水", "category": "technical",
                "project": {"id": f"P-B-{tag}"}, "reporter": {"name": f"业主{n}", "contact": f"1390000000{n}"}, **where}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://api") as http:
        first = await http.post("/intakes", json=intake("1", location="3栋2单元201"))
        assert first.status_code == 201, first.text
        case_id = first.json()["case_id"]
        await eventually(lambda: pool.fetchval("SELECT 1 FROM cases WHERE case_id = $1", case_id), bool)
        second = await http.post("/intakes", json=intake("2", location="Building 3, unit 1502"))
        assert second.status_code == 200 and second.json() | {"joined": True, "case_id": case_id} == second.json()
        third = await http.post("/intakes", json=intake("3", unit="3-1-902"))
        assert third.json()["case_id"] == case_id and third.json()["joined"]
        elsewhere = await http.post("/intakes", json=intake("4", location="5栋1单元101"))
        assert elsewhere.status_code == 201 and elsewhere.json()["case_id"] != case_id
        status = (await http.get(f"/cases/{case_id}")).json()
    assert [r["intake_id"] for r in status["reporters"]] == [f"bldg-{tag}-2", f"bldg-{tag}-3"]

    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host, "CRISIS_TASK_QUEUE": task_queue,
           "DATABASE_URL": settings.dsn(), "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1", case_id), lambda n: n == 3)
    # Report 3 was another leak after all: it leaves the case and opens its own, with its reporter.
    unlinked = await asyncio.to_thread(CliRunner().invoke, cli, ["case", "unlink", case_id, f"bldg-{tag}-3",
                                                                 "--reason", "a pipe in the flat, not the roof"], env=env)
    assert unlinked.exit_code == 0, unlinked.stderr
    own = f"crisis-bldg-{tag}-3"
    assert f"opened {own}" in unlinked.stdout
    status = await eventually(lambda: _status(client, case_id), lambda s: len(s.reporters) == 1)
    assert status.reporters[0].intake_id == f"bldg-{tag}-2"
    [event] = [e for e in await _timeline(client, case_id) if e.kind == "action" and e.name == "unlink_report"]
    assert event.detail["reason"] == "a pipe in the flat, not the roof" and event.detail["via"] == "cli"
    opened = await eventually(lambda: pool.fetchrow("SELECT project_id, category, intake FROM cases WHERE case_id = $1", own), bool)
    assert (opened["project_id"], opened["category"]) == (f"P-B-{tag}", "technical")
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1 AND role = 'reporter'", own),
                     lambda n: n == 1)
    assert await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1", case_id) == 2  # moved, not copied

    # And back: `link` joins it to the open case again, recorded on both.
    linked = await asyncio.to_thread(CliRunner().invoke, cli, ["case", "link", own, case_id, "--by", "Chen CS"], env=env)
    assert linked.exit_code == 0 and "joined" in linked.stdout, linked.stderr
    await eventually(lambda: _status(client, case_id), lambda s: len(s.reporters) == 2)
    assert (await _status(client, own)).stage.value == "cancelled"


async def _status(client, case_id):
    from starter.client import status

    return await status(client, case_id)


async def _timeline(client, case_id):
    from starter.client import timeline

    return await timeline(client, case_id)
