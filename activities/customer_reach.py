"""Messages to reporters (issue 24): each through the contacts they gave (a phone by SMS, an e-mail address,
a WeChat id through the customer webhook, CRISIS_CUSTOMER_WEBHOOK), each carrying their own link to their
page (activities.customer_links). Reporters are customers, not directory people: the recipient names them
by report (`reporter:<intake_id>`) and carries their typed contacts; the timeline says only `reporter` and
the channels used, never an address.

Every (message, channel, reporter) is sent once: the same outbox rows as the directory people's channels
(`notification_deliveries`, slot `sms>reporter:…`), so a retry sends only what did not go out.
"""

import asyncio

import httpx

from activities import customer_links
from activities.delivery import Delivery, DeliveryRefused, PersonalChannel, TransientDeliveryError
from activities.reach import PeopleDelivery, Router
from crisisdesk import customer_page
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, Recipient


class CustomerWebhook:
    """A customer-facing robot (a WeChat service account's relay): one JSON POST per message."""

    name = "wechat"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout

    async def send(self, note: Notification, address: str, text: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.post(self.url, json={"case_id": note.case_id, "kind": note.kind, "to": address,
                                                            "type": "wechat", "text": text},
                                           headers={"Idempotency-Key": f"{note.key}>{address}"})
        except httpx.TransportError as err:
            raise TransientDeliveryError(f"customer webhook unreachable: {type(err).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientDeliveryError(f"customer webhook answered {response.status_code}")
        if response.status_code >= 300:
            raise DeliveryRefused(f"customer webhook refused: {response.status_code}")


LINK_WAIT_S = 3.0  # PostgreSQL down: the message goes without its link rather than wait
CHANNEL_OF = {"email": "email", "phone": "sms", "wechat": "wechat"}


class CustomerDelivery(PeopleDelivery):
    """One notification's delivery to its reporters (one use)."""

    name = "customer"

    def __init__(self, router: Router, reporters: list[Recipient], channels: dict[str, PersonalChannel]) -> None:
        super().__init__(router, [])
        self.reporters, self.channels = reporters, channels

    async def text_for(self, note: Notification, who: Recipient) -> tuple[str, str]:
        """(the full text, the short one for SMS), each with the reporter's link when links are on."""
        link = None
        try:  # bounded: a message to the customer never waits long on PostgreSQL
            link = await asyncio.wait_for(customer_links.issue(self.router.pool, self.router.settings, note.case_id,
                                                               who.reporter), LINK_WAIT_S)
        except customer_links.LinksOff:
            pass
        except Exception as err:  # PostgreSQL down: the message still goes, without its link
            log.warning("customer link not issued", case_id=note.case_id, error=type(err).__name__)
        locale = customer_page.locale_of(who.locale, None, self.router.settings.locale)
        line = customer_page.link_line(locale, link) if link else ""
        subject, body = customer_page.message(note.kind, locale, who.reporter.removeprefix("reporter:"), note.facts,
                                              self.router.settings.timezone) or (note.subject, note.body)
        full = f"{subject}\n\n{body}" + (f"\n\n{line}" if line else "")
        return full, f"{subject} {link}" if link else subject

    async def deliver(self, note: Notification) -> Delivery:
        reached, unreached, transient = 0, 0, False
        for who in self.reporters:
            full, short = await self.text_for(note, who)
            used, tried = False, False
            for contact in who.contacts:
                channel = self.channels.get(CHANNEL_OF.get(contact.get("type"), ""))
                if channel is None:
                    continue  # no channel of that kind on this desk: as before, the outbox keeps the message
                tried = True
                slot = f"{channel.name}>{who.reporter}"
                try:
                    if await self._slot_status(note.key, slot) != "sent":
                        await channel.send(note, contact["value"], short if channel.name == "sms" else full)
                        await self._record(note.key, slot, "sent", None)
                except TransientDeliveryError as err:
                    self._note(f"{channel.name}:failed")
                    transient = True
                    log.warning("reporter channel unavailable", case_id=note.case_id, channel=channel.name, error=str(err))
                    continue
                except DeliveryRefused as err:
                    self._note(f"{channel.name}:failed")
                    await self._record(note.key, slot, "failed", str(err))
                    continue
                self._note(channel.name)
                used = True
            if used:
                reached += 1
            elif tried:
                unreached += 1
        if transient and not reached:
            raise TransientDeliveryError("no reporter reached yet: every channel of theirs failed")
        return Delivery(delivered=reached, failed=unreached,
                        error=f"{unreached} reporter(s) not reached on any channel" if unreached else None)
