"""Intake to closure through one interface alone: only the HTTP API, only the `crisis` CLI."""

import asyncio
import json
import uuid

from crisisdesk.models.case import Stage
from tests.helpers import ORDINARY_CLOSURE, eventually
from tests.test_api import api
from tests.test_cli import crisis


def lift_intake() -> dict:
    return {"intake_id": f"lift-{uuid.uuid4().hex[:8]}", "channel": "phone", "summary": "Lift stuck between floors",
            "reporter": {"name": "Owner Ma", "contact": "ma@example.com"}, "roles": {"head": "Zhang Head"}}


async def test_only_the_http_api(worker, settings, client):
    async with api(settings, client) as http:
        opened = await http.post("/intakes", json=lift_intake())
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        await eventually(lambda: http.get(f"/cases/{case_id}"), lambda r: r.status_code == 200)
        for action, payload in ORDINARY_CLOSURE:
            answer = await http.post(f"/cases/{case_id}/actions/{action}", json=payload)
            assert answer.status_code == 200, (action, answer.text)
        assert answer.json()["stage"] == Stage.closed
        status = (await http.get(f"/cases/{case_id}")).json()
        assert status["stage"] == "closed" and status["counts"]["actions"] == len(ORDINARY_CLOSURE)
        timeline = await eventually(lambda: http.get(f"/cases/{case_id}/timeline"),
                                    lambda r: "knowledge" in [e["kind"] for e in r.json()])
        assert [e["kind"] for e in timeline.json()].count("action") == len(ORDINARY_CLOSURE)


async def test_only_the_cli(worker, temporal_env, settings, tmp_path, dsn):
    env = {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host, "CRISIS_TASK_QUEUE": settings.task_queue,
           "DATABASE_URL": dsn, "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}
    intake = lift_intake()
    (tmp_path / "intake.json").write_text(json.dumps(intake))

    def run(*args: str):
        return asyncio.to_thread(crisis, env, *args)

    started = await run("start", str(tmp_path / "intake.json"), "--json")
    assert started.exit_code == 0, started.stderr
    case = intake["intake_id"]
    await eventually(lambda: run("status", case, "--json"), lambda r: r.exit_code == 0)
    for action, payload in ORDINARY_CLOSURE:
        acted = await run("act", case, action, json.dumps(payload), "--json")
        assert acted.exit_code == 0, (action, acted.stderr)
    assert json.loads(acted.stdout)["stage"] == "closed"

    report = await eventually(lambda: run("report", case), lambda r: r.exit_code == 0 and "review_done" in r.stdout)
    assert "Lift stuck between floors" in report.stdout
    found = await eventually(lambda: run("kb", "search", "door", "sensor", "--json"),
                             lambda r: r.exit_code == 0 and json.loads(r.stdout))
    assert any("door sensor" in row["title"] for row in json.loads(found.stdout))
