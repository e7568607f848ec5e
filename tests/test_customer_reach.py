"""Issue 24, the customer's channels: a reporter's typed contacts (and an old single string split where
it is unambiguous), SMS to the phone (the Twilio loopback double) and e-mail (a real SMTP server), each
message in the reporter's language carrying their own link, which opens their page; the timeline names
the channels and `reporter`, never an address."""

import email
import re
import uuid
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from crisisdesk.models.intake import Intake
from crisisdesk.settings import Settings
from tests.conftest import STAMP_KEY
from tests.helpers import eventually
from tests.helpers.fixtures import Case
from tests.helpers.servers import free_port
from tests.test_api import api

async def now(value):
    return value


LINK = re.compile(r"http://desk\.test/c/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}?from=desk@crisisdesk.test"
    controller.stop()


@pytest.fixture
def settings(dsn, tmp_path, task_queue, doubles, smtp) -> Settings:
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_STAMP_KEY=STAMP_KEY, CRISIS_ACK_SECRET="ack",
                    CRISIS_PUBLIC_URL="http://desk.test", SMTP_URL=smtp[1], **doubles.env())


def test_contacts_are_typed_and_an_old_string_is_split_where_unambiguous():
    def reporter(**fields):
        return Intake.model_validate({"intake_id": "x", "summary": "s", "reporter": fields}).reporter

    split = reporter(contact="+8613800138000; wangli@example.com")
    assert [(c.type, c.value) for c in split.contacts] == [("phone", "+8613800138000"), ("email", "wangli@example.com")]
    assert reporter(contact="ring the bell at the gate").contacts == []  # not clear: kept as written
    typed = reporter(contacts=[{"type": "wechat", "value": "wangli_88"}, {"type": "email", "value": "w@example.com"}])
    assert typed.contact == "w@example.com" and typed.email() == "w@example.com"
    with pytest.raises(ValueError, match="not a phone number"):
        reporter(contacts=[{"type": "phone", "value": "call me"}])


async def test_sms_and_email_to_the_reporter_carry_their_link(worker, settings, client, temporal_env, doubles, smtp):
    inbox = smtp[0]
    tag = uuid.uuid4().hex[:8]
    phone, address = "+8613811112222", f"owner-{tag}@example.com"
    async with api(settings, client) as http:
        opened = await http.post("/intakes", json={
            "intake_id": f"reach-c-{tag}", "channel": "phone", "summary": "No hot water in 5-1-302",
            "category": "technical", "location": "Block 5, unit 302",
            "reporter": {"name": "Liu Yang", "locale": "zh-CN",
                         "contacts": [{"type": "phone", "value": phone}, {"type": "email", "value": address}]},
            "project": {"id": f"P-R-{tag}"}, "roles": {"cs_owner": "Chen CS"}})
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        case = Case(temporal_env, client.get_workflow_handle(case_id))

        # The acknowledgement reaches both contacts, in Chinese, each with the same link.
        sms = await eventually(lambda: now(doubles.to(phone)), bool)
        mail = await eventually(lambda: now(inbox.to(address)), bool)
        assert "我们已收到您的反映" in sms[0].text and LINK.search(sms[0].text)
        assert re.search(r"我们将在 \d{4}年\d+月\d+日 \d\d:\d\d 前答复", body := mail[0].get_content()), body
        body = mail[0].get_content()
        assert "您的报修单页面" in body and LINK.search(body).group(0) == LINK.search(sms[0].text).group(0)
        told = (await case.wait_for("notification", "acknowledgement"))[0]
        assert {"sms", "smtp"} <= set(told.detail["channels"]) and told.detail["people"] == ["reporter"]
        assert phone not in str(await case.timeline()) and address not in str(await case.timeline())

        # A neighbour reports the same problem: they join the case, and get their own link and the same news.
        neighbour = "+8613833334444"
        joined = await http.post("/intakes", json={
            "intake_id": f"reach-c2-{tag}", "channel": "owner_group", "summary": "No hot water either",
            "category": "technical", "location": "block 5, Unit 302", "project": {"id": f"P-R-{tag}"},
            "reporter": {"name": "Zhou Min", "contact": neighbour}})
        assert joined.status_code == 200 and joined.json()["case_id"] == case_id, joined.text
        await eventually(lambda: case.status(), lambda s: len(s.reporters) == 1)
        links = (await http.get(f"/cases/{case_id}/customer-link")).json()["links"]
        assert [r["reporter"] for r in links] == [f"reporter:reach-c-{tag}", f"reporter:reach-c2-{tag}"]
        assert links[0]["url"] != links[1]["url"]

        # Staff carry it out; the reporter hears of the progress and is asked to confirm, each with the link.
        for action, payload in [("triage", {"by": "Chen CS", "severity": "general", "category": "technical"}),
                                ("solution_proposed", {"by": "Tech Liu", "summary": "Replace the water heater valve"}),
                                ("execution_started", {"by": "Tech Liu", "department": "maintenance"}),
                                ("progress_reported", {"by": "Chen CS"}),
                                ("execution_done", {"by": "Tech Liu"})]:
            assert (await http.post(f"/cases/{case_id}/actions/{action}", json=payload)).status_code == 200
        asked = await eventually(lambda: now([r for r in doubles.to(phone) if "问题解决了吗" in r.text]), bool)
        assert await eventually(lambda: now([r for r in doubles.to(phone) if "新进展" in r.text]), bool)
        link = LINK.search(asked[0].text).group(0)
        page = await http.get(urlsplit(link).path)
        assert page.status_code == 200 and "No hot water in 5-1-302" in page.text and "/confirm" in page.text
        theirs = await eventually(lambda: now([r for r in doubles.to(neighbour) if "Is the problem solved" in r.text]), bool)
        their_link = LINK.search(theirs[0].text).group(0)
        assert their_link != link and urlsplit(their_link).path == urlsplit(links[1]["url"]).path
        confirmed = await http.post(f"{urlsplit(their_link).path}/confirm", json={"satisfied": "yes"},
                                    headers={"Accept": "application/json"})
        assert confirmed.status_code == 200, confirmed.text
        action = [e for e in await case.events("action", "resolution_confirmed")][0]
        assert (action.by, action.detail["via"]) == (f"reporter:reach-c2-{tag}", "customer")
        assert doubles.rejected == []
