"""Each reader gets their own language (issue 23): in a project that reads Chinese, a member of staff whose
directory entry says `en` gets their alert in English, the others in Chinese; through their own channels
(loopback WeCom and SMS doubles), the acknowledgement link worded in the same language."""

import uuid

import httpx
import pytest

from activities.directory import save_person
from crisisdesk.models.people import Person
from crisisdesk.settings import Settings
from starter.api import create_app
from tests.conftest import STAMP_KEY
from tests.helpers import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def settings(dsn, tmp_path, task_queue, doubles) -> Settings:  # the worker's Notifier reaches the doubles
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_ACK_SECRET="lang-ack-secret",
                    CRISIS_PUBLIC_URL="http://desk.test", CRISIS_STAMP_KEY=STAMP_KEY, **doubles.env())


async def test_a_person_reads_their_alert_in_their_own_language(client, worker, settings, pool, doubles):
    tag = str(uuid.uuid4().int)[:6]  # digits: the addresses are phone numbers
    head, cs = f"head-{tag}", f"cs-{tag}"
    for person in (head, cs):
        await save_person(pool, Person(person_id=person, display_name=person.title()))
    await pool.execute("UPDATE people SET locale = 'en' WHERE person_id = $1", head)  # `crisis users add --locale en`
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://desk.test") as http:
        assert (await http.put(f"/people/{head}/contacts", json=[{"channel": "wecom", "address": f"1381{tag}"}])).status_code == 200
        assert (await http.put(f"/people/{cs}/contacts", json=[{"channel": "sms", "address": f"+86139{tag}"}])).status_code == 200
        project = f"P-{tag}"
        assert (await http.put(f"/projects/{project}", json={"locale": "zh-CN", "timezone": "Asia/Shanghai"})).status_code == 200
        assert (await http.put(f"/projects/{project}/team", json={"head": head, "regional_cs": cs})).status_code == 200
        opened = await http.post("/intakes", json={"intake_id": f"lang-{tag}", "channel": "phone", "summary": "大堂漏水",
                                                   "potential_crisis": True, "project": {"id": project}})
        assert opened.status_code in (200, 201), opened.text

    async def received(address: str) -> list[str]:
        return [r.text for r in doubles.to(address)]

    english = await eventually(lambda: received(f"1381{tag}"), lambda found: any("Potential crisis" in t for t in found),
                               timeout=30)
    chinese = await eventually(lambda: received(f"+86139{tag}"), lambda found: any("疑似危机" in t for t in found),
                               timeout=30)
    alert_en = next(t for t in english if "Potential crisis: phone now" in t)
    assert "Form the crisis team and acknowledge" in alert_en and "Acknowledge: http://desk.test/ack/" in alert_en
    assert any("疑似危机：请立即电话联系" in t for t in chinese), chinese
