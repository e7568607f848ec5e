"""Notifications against a real SMTP server (aiosmtpd) and a real HTTP server: exactly once."""

import email
import json
import socket
import uuid

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from structlog.testing import CapturingLogger
from temporalio.exceptions import ApplicationError

from activities.channels import LogChannel, address_of
from activities.notify import Notifier
from crisisdesk.models.effects import Notification
from tests.helpers.activity_samples import T0, http_server, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message and refuses addresses starting with `refuse`."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{controller.port}?from=desk@crisisdesk.test"
    controller.stop()


def notification(case_id: str, *people: str, kind: str = "alert") -> Notification:
    return Notification(
        key=f"{case_id}:{kind}:{uuid.uuid4().hex[:6]}", case_id=case_id, kind=kind, subject="Urgent case: water leak",
        body="Please acknowledge within 30 minutes.",
        recipients=[{"role": f"role{i}", "person": p} for i, p in enumerate(people)], at=T0,
    )


async def test_addresses_are_taken_from_person_strings():
    assert address_of("Li Wei <li.wei@example.com>") == "li.wei@example.com"
    assert address_of("li.wei@example.com") == "li.wei@example.com"
    assert address_of("Li Wei") is None


async def test_log_only_notification_is_logged_once_without_names(pool, settings):
    logger = CapturingLogger()
    notifier = Notifier(pool, settings, channels=[LogChannel(logger)])
    note = notification(new_case_id(), "Li Wei <li.wei@example.com>", "Zhang San")
    first = await notifier.notify(note)
    second = await notifier.notify(note)
    assert first == second
    assert (first.status, first.channels, first.delivered, first.failed) == ("logged", ["log"], 0, 0)
    assert len(logger.calls) == 1
    call = logger.calls[0]
    assert call.kwargs == {"case_id": note.case_id, "kind": "alert", "key": note.key, "recipient_count": 2}
    assert "Li Wei" not in repr(call) and "example.com" not in repr(call)


async def test_smtp_delivers_exactly_one_message(pool, settings, smtp):
    inbox, url = smtp
    notifier = Notifier(pool, settings.model_copy(update={"smtp_url": SecretStr(url)}))
    note = notification(new_case_id(), "Li Wei <li.wei@example.com>", "Zhang San", "wang@example.com")
    first = await notifier.notify(note)
    second = await notifier.notify(note)
    assert len(inbox.messages) == 1
    assert (first.status, first.channels, first.delivered, first.failed) == ("partial", ["log", "smtp"], 2, 1)
    assert "no e-mail address" in first.error
    assert second == first
    sender, recipients, raw = inbox.messages[0]
    message = email.message_from_bytes(raw)
    assert sender == "desk@crisisdesk.test" and sorted(recipients) == ["li.wei@example.com", "wang@example.com"]
    assert message["Subject"] == note.subject and message["X-Crisis-Case"] == note.case_id
    assert "acknowledge within 30 minutes" in message.get_payload()
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT channel, status, attempts FROM notification_deliveries WHERE key = $1", note.key)
        assert await conn.fetchval("SELECT status FROM notifications WHERE key = $1", note.key) == "partial"
    assert sorted(tuple(r) for r in rows) == [("log", "sent", 1), ("smtp", "sent", 1)]


async def test_smtp_refusing_every_recipient_is_recorded_failed_not_retried(pool, settings, smtp):
    inbox, url = smtp
    notifier = Notifier(pool, settings.model_copy(update={"smtp_url": SecretStr(url)}))
    note = notification(new_case_id(), "Nobody <refuse.me@example.com>")
    receipt = await notifier.notify(note)
    assert (receipt.status, receipt.delivered, receipt.failed) == ("failed", 0, 1)
    assert "550" in receipt.error and "refuse.me" not in receipt.error
    assert (await notifier.notify(note)) == receipt
    assert inbox.messages == []


async def test_smtp_down_raises_so_temporal_retries(pool, settings):
    notifier = Notifier(pool, settings.model_copy(update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{free_port()}")}))
    note = notification(new_case_id(), "li.wei@example.com")
    with pytest.raises(ApplicationError) as caught:
        await notifier.notify(note)
    assert caught.value.type == "DeliveryUnavailable" and not caught.value.non_retryable
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, attempts FROM notification_deliveries WHERE key = $1 AND channel = 'smtp'", note.key)
    assert tuple(row) == ("retrying", 1)


async def test_webhook_5xx_raises_then_the_retry_posts_once(pool, settings):
    with http_server() as hook:
        notifier = Notifier(pool, settings.model_copy(update={"webhook_url": SecretStr(hook.url + "/hook?token=s3cret")}))
        note = notification(new_case_id(), "Li Wei <li.wei@example.com>")
        hook.status = 500
        with pytest.raises(ApplicationError) as caught:
            await notifier.notify(note)
        assert not caught.value.non_retryable and "500" in caught.value.message
        assert "s3cret" not in caught.value.message
        hook.status = 200
        receipt = await notifier.notify(note)
        again = await notifier.notify(note)
        assert (receipt.status, receipt.channels, receipt.delivered) == ("sent", ["log", "webhook"], 1)
        assert again == receipt
        assert len(hook.posts) == 2  # the refused 500 and the one delivery
        payload = json.loads(hook.posts[-1])
        assert payload["case_id"] == note.case_id and payload["kind"] == "alert"
        assert payload["text"].startswith(note.subject) and payload["content"]["text"] == payload["text"]
        assert "li.wei" not in hook.posts[-1].decode()


async def test_webhook_4xx_is_recorded_failed_and_not_sent_again(pool, settings, smtp):
    inbox, url = smtp
    with http_server() as hook:
        hook.status = 400
        notifier = Notifier(pool, settings.model_copy(
            update={"webhook_url": SecretStr(hook.url), "smtp_url": SecretStr(url)}))
        note = notification(new_case_id(), "li.wei@example.com")
        receipt = await notifier.notify(note)
        assert (receipt.status, receipt.delivered, receipt.failed) == ("partial", 1, 1)
        assert "webhook refused: 400" in receipt.error
        assert (await notifier.notify(note)) == receipt
        assert len(hook.posts) == 1 and len(inbox.messages) == 1
