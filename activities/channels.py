"""Where a notification can go: the log, SMTP, a chat webhook. One small interface for all three.

A channel either returns a `Delivery` (what it delivered and what was refused for good) or raises
`TransientDeliveryError` when trying again later may work (server down, 5xx, timeout).
Error texts never carry the channel's URL or credentials: webhook URLs often embed a token.
"""

import asyncio
import hashlib
import re
import smtplib
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from activities.delivery import Channel, Delivery, DeliveryRefused, PersonalChannel, TransientDeliveryError
from activities.robots import DingTalkRobot, FeishuRobot, WeComRobot
from activities.sms import TwilioSms
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification
from crisisdesk.settings import Settings

_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
_BARE_ADDRESS = re.compile(r"^[^<>\s@]+@[^<>\s@]+\.[^<>\s@]+$")


def address_of(person: str) -> str | None:
    """The e-mail address in "Li Wei <li.wei@example.com>" (or a bare address); None if there is none."""
    match = _ANGLE_ADDRESS.search(person)
    if match:
        return match.group(1)
    person = person.strip()
    return person if _BARE_ADDRESS.match(person) else None


class LogChannel:
    """Always on: one line per notification, without the recipients' names or addresses."""

    name = "log"

    def __init__(self, logger=None) -> None:
        self.logger = logger or log

    async def deliver(self, note: Notification) -> Delivery:
        self.logger.info("notification", case_id=note.case_id, kind=note.kind, key=note.key,
                 recipient_count=len(note.recipients))
        return Delivery(delivered=0)


class SmtpChannel:
    """smtp://[user:pass@]host[:port][?from=desk@example.com&starttls=1], or smtps:// for TLS."""

    name = "smtp"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://host:port or smtps://user:pass@host:port")
        query = parse_qs(parts.query)
        self.tls = parts.scheme == "smtps"
        self.starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = query.get("from", ["crisisdesk@localhost"])[0]
        self.timeout = timeout

    def _message(self, note: Notification, addresses: list[str]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = note.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(addresses)
        # The same key always gives the same Message-ID, so a receiver can drop a duplicate.
        msg["Message-ID"] = f"<{hashlib.sha256(note.key.encode()).hexdigest()[:32]}@crisisdesk>"
        msg["X-Crisis-Case"] = note.case_id
        msg["X-Crisis-Kind"] = note.kind
        msg.set_content(note.body)
        if note.html:  # multipart/alternative: the text for any reader, the HTML (charts inline) for mail clients
            msg.add_alternative(note.html, subtype="html")
        return msg

    def _send(self, msg: EmailMessage, addresses: list[str]) -> dict:
        smtp_class = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            return smtp.send_message(msg, from_addr=self.sender, to_addrs=addresses)

    async def send(self, note: Notification, address: str, text: str) -> None:
        """One person's own copy (their e-mail contact), the text carrying their acknowledgement link."""
        own = note.model_copy(update={"body": text, "key": f"{note.key}>{address}"})  # a report keeps its HTML
        try:
            await asyncio.to_thread(self._send, self._message(own, [address]), [address])
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            if any(code < 500 for code in codes):
                raise TransientDeliveryError(f"smtp recipient deferred ({codes})") from None
            raise DeliveryRefused(f"smtp refused the recipient ({sorted(set(codes))})") from None
        except smtplib.SMTPResponseException as err:
            if 500 <= err.smtp_code < 600:
                raise DeliveryRefused(f"smtp {err.smtp_code} ({type(err).__name__})") from None
            raise TransientDeliveryError(f"smtp {err.smtp_code} ({type(err).__name__})") from None
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise TransientDeliveryError(f"smtp unreachable: {type(err).__name__}") from None
        except smtplib.SMTPException as err:
            raise DeliveryRefused(f"smtp: {type(err).__name__}") from None

    async def deliver(self, note: Notification) -> Delivery:
        addresses = [a for a in (address_of(r.person) for r in note.recipients if r.person) if a]
        unaddressed = len(note.recipients) - len(addresses)
        no_address = f"{unaddressed} recipient(s) have no e-mail address" if unaddressed else None
        if not addresses:
            return Delivery(delivered=0, failed=unaddressed, error=no_address)
        try:
            refused = await asyncio.to_thread(self._send, self._message(note, addresses), addresses)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            if any(code < 500 for code in codes):
                raise TransientDeliveryError(f"smtp recipients deferred ({codes})") from None
            return Delivery(delivered=0, failed=len(note.recipients), error=_join(
                f"smtp refused every recipient ({sorted(set(codes))})", no_address))
        except smtplib.SMTPResponseException as err:
            # The server's text can echo an address: keep the code and the kind of refusal only.
            detail = f"smtp {err.smtp_code} ({type(err).__name__})"
            if 500 <= err.smtp_code < 600:
                return Delivery(delivered=0, failed=len(note.recipients), error=_join(detail, no_address))
            raise TransientDeliveryError(detail) from None
        except (smtplib.SMTPServerDisconnected, OSError) as err:  # refused, reset, timed out
            raise TransientDeliveryError(f"smtp unreachable: {type(err).__name__}") from None
        except smtplib.SMTPException as err:  # e.g. STARTTLS not supported: a configuration error
            return Delivery(delivered=0, failed=len(note.recipients), error=_join(f"smtp: {err}", no_address))
        refused_error = f"smtp refused {len(refused)} recipient(s)" if refused else None
        return Delivery(
            delivered=len(addresses) - len(refused),
            failed=unaddressed + len(refused),
            error=_join(refused_error, no_address),
        )


class WebhookChannel:
    """A JSON POST in the shape chat incoming webhooks accept."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("WEBHOOK_URL must be an http:// or https:// URL")
        self.url = url
        self.timeout = timeout

    @staticmethod
    def payload(note: Notification) -> dict:
        text = f"{note.subject}\n\n{note.body}"
        return {
            "msg_type": "text", "text": text, "content": {"text": text},
            "case_id": note.case_id, "kind": note.kind, "key": note.key,
        }

    async def deliver(self, note: Notification) -> Delivery:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.post(self.url, json=self.payload(note),
                                           headers={"Idempotency-Key": note.key})
        except httpx.TransportError as err:  # connection refused, DNS, timeouts
            raise TransientDeliveryError(f"webhook unreachable: {type(err).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientDeliveryError(f"webhook answered {response.status_code}")
        if response.status_code >= 300:
            return Delivery(delivered=0, failed=1, error=f"webhook refused: {response.status_code}")
        return Delivery(delivered=1)


def build_channels(settings: Settings) -> list[Channel]:
    """The log always; SMTP and the webhook when their URLs are configured."""
    channels: list[Channel] = [LogChannel()]
    if settings.smtp_url is not None:
        channels.append(SmtpChannel(settings.smtp_url.get_secret_value()))
    if settings.webhook_url is not None:
        channels.append(WebhookChannel(settings.webhook_url.get_secret_value()))
    return channels


def build_personal_channels(settings: Settings) -> dict[str, PersonalChannel]:
    """The channels that reach one person at their own address, by the name their contacts use."""
    found: dict[str, PersonalChannel] = {}
    if settings.smtp_url is not None:
        found["email"] = SmtpChannel(settings.smtp_url.get_secret_value())
    if settings.sms_provider == "twilio":
        found["sms"] = TwilioSms(settings.sms_base_url, settings.sms_account or "",
                                 settings.sms_token.get_secret_value() if settings.sms_token else "",
                                 settings.sms_from or "")
    if settings.voice_provider == "aliyun":
        from activities.voice import AliyunVoice  # the SDK is imported only where calls are configured

        found["voice"] = AliyunVoice(settings.voice_access_key_id or "",
                                     settings.voice_access_key_secret.get_secret_value()
                                     if settings.voice_access_key_secret else "",
                                     settings.voice_tts_code or "", settings.voice_show_number,
                                     settings.voice_endpoint, settings.voice_answer_wait.total_seconds())
    if settings.wecom_webhook is not None:
        found["wecom"] = WeComRobot(settings.wecom_webhook.get_secret_value())
    if settings.dingtalk_webhook is not None and settings.dingtalk_secret is not None:
        found["dingtalk"] = DingTalkRobot(settings.dingtalk_webhook.get_secret_value(),
                                          settings.dingtalk_secret.get_secret_value())
    if settings.feishu_webhook is not None and settings.feishu_secret is not None:
        found["feishu"] = FeishuRobot(settings.feishu_webhook.get_secret_value(),
                                      settings.feishu_secret.get_secret_value())
    return found


def _join(*parts: str | None) -> str | None:
    joined = "; ".join(p for p in parts if p)
    return joined or None
