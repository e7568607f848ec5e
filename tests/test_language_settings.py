"""Where a language or a zone is given (issue 23): a project's (`PUT /projects/{id}`, `crisis projects set`),
a person's (`crisis users add --locale`), an intake's reporter, the settings. Each is refused naming the field
and the supported values; a project's setting is what its new cases read in."""

import asyncio
import uuid

import httpx
import pytest
from pydantic import ValidationError
from temporalio.api.sdk.v1 import WorkflowMetadata
from typer.testing import CliRunner

from crisisdesk.settings import Settings
from starter.api import create_app
from starter.cli import app as cli
from tests.helpers import eventually



def test_settings_refuse_an_unknown_locale_or_zone_naming_the_variable():
    with pytest.raises(ValidationError, match="CRISIS_LOCALE: 'fr' is not a supported locale; use one of en, zh-CN"):
        Settings(CRISIS_LOCALE="fr")
    with pytest.raises(ValidationError, match="CRISIS_TIMEZONE: 'Mars/Olympus' is not an IANA time zone"):
        Settings(CRISIS_TIMEZONE="Mars/Olympus")
    assert Settings(CRISIS_LOCALE="zh_CN", CRISIS_TIMEZONE="Asia/Shanghai").locale == "zh-CN"


async def test_a_projects_language_is_set_checked_and_read_by_its_new_cases(client, worker, settings, pool, dsn):
    project = f"P-L-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://api") as http:
        bad = await http.put(f"/projects/{project}", json={"locale": "fr"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "locale"]
        assert "use one of en, zh-CN" in bad.json()["message"]
        zone = await http.put(f"/projects/{project}", json={"timezone": "Asia/Shanghaii"})
        assert zone.status_code == 422 and zone.json()["detail"][0]["loc"] == ["body", "timezone"]
        saved = await http.put(f"/projects/{project}", json={"locale": "zh-CN", "timezone": "Asia/Shanghai"})
        assert saved.json() == {"project_id": project, "locale": "zh-CN", "timezone": "Asia/Shanghai"}

        reporter = await http.post("/intakes", json={"intake_id": f"lang-{uuid.uuid4().hex[:6]}", "channel": "phone",
                                                     "summary": "漏水", "reporter": {"contact": "a@b.c", "locale": "de"}})
        assert reporter.status_code == 422 and "reporter.locale: 'de' is not a supported locale" in reporter.text

        opened = await http.post("/intakes", json={"intake_id": f"lang-{uuid.uuid4().hex[:6]}", "channel": "phone",
                                                   "summary": "楼道漏水", "potential_crisis": True,
                                                   "reporter": {"contact": "owner@example.com"},
                                                   "roles": {"head": "王总", "regional_cs": "李经理"},
                                                   "project": {"id": project}})
        case_id = opened.json()["case_id"]
        await eventually(lambda: http.get(f"/cases/{case_id}"), lambda r: r.status_code == 200)
        # The desk runs in English (the test settings); this project reads in Chinese, Shanghai time.
        meta = await client.get_workflow_handle(case_id).query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert "**阶段** 预警中" in meta.current_details, meta.current_details
        rows = await eventually(lambda: pool.fetch("SELECT kind, subject, body FROM notifications WHERE case_id = $1", case_id),
                                lambda r: {"acknowledgement", "alert"} <= {x["kind"] for x in r})
        ack = next(r for r in rows if r["kind"] == "acknowledgement")
        assert "我们已收到您的反馈" in ack["subject"] and "前答复您" in ack["body"]

        # A refusal through the API, in the caller's language (Accept-Language), the record's reason in English.
        refused = await http.post(f"/cases/{case_id}/actions/approve_revision", json={"by": "王总"},
                                  headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert refused.status_code == 409 and "案件当前阶段为预警中" in refused.text, refused.text
        english = await http.post(f"/cases/{case_id}/actions/approve_revision", json={"by": "王总"})
        assert "the case is at alerting" in english.text, english.text

    # The CLI: the same checks, in the same words.
    env = {"DATABASE_URL": dsn}
    wrong = await asyncio.to_thread(CliRunner().invoke, cli, ["projects", "set", project, "--locale", "klingon"], env=env)
    assert wrong.exit_code != 0 and "--locale: 'klingon' is not a supported locale; use one of en, zh-CN" in wrong.output
    done = await asyncio.to_thread(CliRunner().invoke, cli, ["projects", "set", project, "--timezone", "Asia/Hong_Kong"], env=env)
    assert done.exit_code == 0 and "locale zh-CN, timezone Asia/Hong_Kong" in done.output, done.output
    person = f"p-{uuid.uuid4().hex[:6]}"
    bad_person = await asyncio.to_thread(CliRunner().invoke, cli, ["users", "add", person, "--role", "head", "--locale", "xx"],
                                         env=env)
    assert bad_person.exit_code != 0 and "--locale: 'xx'" in bad_person.output
    added = await asyncio.to_thread(CliRunner().invoke, cli, ["users", "add", person, "--role", "head", "--locale", "zh-CN"],
                                    env=env)
    assert added.exit_code == 0, added.output
    assert await pool.fetchval("SELECT locale FROM people WHERE person_id = $1", person) == "zh-CN"
