"""A reporter with a WeChat id is reached through the customer webhook (CRISIS_CUSTOMER_WEBHOOK, a relay to
a WeChat service account): one JSON POST with their own link, once per message however often the activity
is retried; the receipt names `reporter` and the channel, never the id. Real PostgreSQL, a loopback relay."""

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activities.notify import Notifier
from activities.records import CaseRecords
from crisisdesk.models.effects import Notification, Recipient, StoreStakeholder
from crisisdesk.models.intake import Contact, contacts_from_register, register_contact
from crisisdesk.settings import Settings
from tests.conftest import STAMP_KEY


@pytest.fixture
def relay():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append({"body": json.loads(body), "key": self.headers.get("Idempotency-Key")})
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/relay", received
    server.shutdown()


async def test_a_wechat_contact_goes_through_the_customer_webhook_with_the_link(pool, dsn, relay):
    url, received = relay
    settings = Settings(database_url=dsn, CRISIS_STAMP_KEY=STAMP_KEY, CRISIS_CUSTOMER_WEBHOOK=url,
                        CRISIS_ACK_SECRET="ack", CRISIS_PUBLIC_URL="https://desk.example.com")
    notifier = Notifier(pool, settings)
    case_id = f"crisis-wx-{uuid.uuid4().hex[:8]}"
    note = Notification(key=f"{case_id}:1:notify:customer_progress", case_id=case_id, kind="customer_progress",
                        subject="to the reporter", body="customer_progress", at=datetime.now(UTC),
                        recipients=[Recipient(role="reporter", reporter="reporter:wx-1", locale="en",
                                              contacts=[{"type": "wechat", "value": "wx_owner_88"}])])
    receipt = await notifier.notify(note)
    again = await notifier.notify(note)  # a retried activity: nothing sent twice
    assert len(received) == 1, received
    sent = received[0]["body"]
    assert sent["to"] == "wx_owner_88" and sent["type"] == "wechat" and sent["case_id"] == case_id
    assert "Progress on your case" in sent["text"] and "https://desk.example.com/c/" in sent["text"]
    assert receipt.people == ["reporter"] and "wechat" in receipt.channels and receipt.delivered == 1
    assert "wx_owner_88" not in str(receipt.model_dump()) and again.status == receipt.status


async def test_a_joined_reporter_is_reached_on_every_contact_they_gave_including_wechat(pool, dsn, relay, doubles):
    """A neighbour who joined by a second report (`link_report`) is read back from the sealed register:
    their phone by SMS and their WeChat id through the relay, each with their own link."""
    url, received = relay
    settings = Settings(database_url=dsn, CRISIS_STAMP_KEY=STAMP_KEY, CRISIS_CUSTOMER_WEBHOOK=url,
                        CRISIS_ACK_SECRET="ack", CRISIS_PUBLIC_URL="https://desk.example.com", **doubles.env())
    case_id = f"crisis-wx-{uuid.uuid4().hex[:8]}"
    phone = "+8613855556666"
    contacts = [Contact(type="phone", value=phone), Contact(type="wechat", value="wx_neighbour_9")]
    await CaseRecords(pool, settings).store_stakeholder(StoreStakeholder(
        key=f"{case_id}:joined", case_id=case_id, by="link", name="Zhou Min", role="reporter",
        contact=register_contact(contacts), report_id="wx-2"))
    receipt = await Notifier(pool, settings).notify(Notification(
        key=f"{case_id}:1:notify:customer_progress", case_id=case_id, kind="customer_progress", subject="s",
        body="customer_progress", at=datetime.now(UTC),
        recipients=[Recipient(role="reporter", reporter="reporter:wx-1", locale="en",
                              contacts=[{"type": "email", "value": "owner@example.com"}])]))
    [sent] = [r["body"] for r in received if r["body"]["to"] == "wx_neighbour_9"]
    sms = doubles.to(phone)
    assert len(sms) == 1 and "https://desk.example.com/c/" in sms[0].text
    assert "https://desk.example.com/c/" in sent["text"] and "wechat" in receipt.channels
    assert "wx_neighbour_9" not in str(receipt.model_dump()) and phone not in str(receipt.model_dump())
    # An old register row (no mark, and words beside the phone) still reaches the phone it names.
    assert contacts_from_register(f"{phone}; after 6 pm") == [Contact(type="phone", value=phone)]
    assert contacts_from_register(register_contact(contacts)) == contacts
