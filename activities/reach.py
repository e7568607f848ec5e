"""Each directory person through the channels they answer (issue 10).

For every person a notification resolves to, their channels are tried in the order they prefer
(`crisis users contact`, `PUT /people/{id}/contacts`). An urgent kind (`CRISIS_URGENT_KINDS`: a
crisis alert, an escalation) goes to every channel of the person; the others to the first that
works. A refusal or a rate limit falls through to the person's next channel. A person nobody could
reach because a channel was only unavailable makes the delivery transient, so Temporal retries; the
channels that did reach someone are recorded per (key, `channel>person`) and not sent again.

The Notifier sees all this as one channel, `people`, beside the broadcast ones (log, SMTP for people
named by address, the generic webhook), which no longer carry the people reached here. Its summary
(`wecom`, `sms`, `dingtalk:failed`, `feishu:rate_limited`) replaces `people` in the receipt's
channels, so the timeline says which channels were used and which failed: never an address.
"""

import asyncio
from datetime import datetime, timezone

import asyncpg

from activities.delivery import CallNotAnswered, Channel, Delivery, DeliveryRefused, PersonalChannel, RateLimited, TransientDeliveryError
from activities.db import OUTAGE
from activities.recipients import Resolution, Target
from activities.wording import for_person
from crisisdesk import i18n
from crisisdesk.acklinks import make_token, nonce_for
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification
from crisisdesk.settings import Settings

# These carry a one-time acknowledgement link per person (when CRISIS_ACK_SECRET and CRISIS_PUBLIC_URL are set).
ACK_KINDS = ("alert", "breach", "escalated", "escalation", "contingency")
SLOT_WAIT_S = 2.0
PEOPLE_AT_ONCE = 4


class Router:
    """Shared by every notification of a worker: the personal channels and the settings."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, personal: dict[str, PersonalChannel]) -> None:
        self.pool, self.settings, self.personal = pool, settings, personal

    def channels_for(self, found: Resolution, broadcast: list[Channel]) -> list[Channel]:
        """This notification's channels: `people` first (a broadcast channel being down must not
        hold back a phone call), then the broadcast channels without the people reached here."""
        routed = [t for t in found.targets if any(c.channel in self.personal for c in t.contacts)]
        if not routed:
            return broadcast
        ids = {t.person for t in routed}
        rest = [r for person, r in zip(found.people, found.note.recipients) if person not in ids]
        return [PeopleDelivery(self, routed), *(Only(c, rest) for c in broadcast)]

    async def locales(self, people: list[str]) -> dict[str, str]:
        """Each person's own locale (`crisis users add --locale`), best effort: the note's otherwise."""
        try:
            async with self.pool.acquire(timeout=SLOT_WAIT_S) as conn:
                rows = await conn.fetch("SELECT person_id, locale FROM people WHERE person_id = ANY($1) AND locale IS NOT NULL",
                                        people)
        except (*OUTAGE, asyncpg.PostgresError):
            return {}
        return {r["person_id"]: r["locale"] for r in rows}

    def text(self, note: Notification, person: str, channel: str) -> str:
        link = self.ack_link(note, person)
        if channel == "sms":  # short: the subject and the link
            return note.subject + (f" {link}" if link else "")
        ack = "\n\n" + i18n.text(note.locale, "note.link", link=link) if link else ""
        return f"{note.subject}\n\n{note.body}{ack}"

    def ack_link(self, note: Notification, person: str) -> str | None:
        s = self.settings
        if note.kind not in ACK_KINDS or s.ack_secret is None or not s.public_url:
            return None
        token = make_token(s.ack_secret.get_secret_value(), person, note.case_id,
                           datetime.now(timezone.utc) + s.ack_ttl, nonce_for(note.key, person))
        return f"{s.public_url.rstrip('/')}/ack/{token}"


class Only:
    """A broadcast channel given only the recipients the people channel does not reach."""

    def __init__(self, channel: Channel, recipients: list) -> None:
        self.channel, self.recipients, self.name = channel, recipients, channel.name

    async def deliver(self, note: Notification) -> Delivery:
        if self.name == "log":
            return await self.channel.deliver(note)
        return await self.channel.deliver(note.model_copy(update={"recipients": self.recipients}))


class PeopleDelivery:
    """One notification's delivery to its directory people (one use)."""

    name = "people"

    def __init__(self, router: Router, targets: list[Target]) -> None:
        self.router, self.targets = router, targets
        self.locales: dict[str, str] = {}
        self.summary: list[str] = []  # channel names used, and `name:failed` / `name:rate_limited`

    def _note(self, entry: str) -> None:
        if entry not in self.summary:
            self.summary.append(entry)

    async def deliver(self, note: Notification) -> Delivery:
        every = note.kind in self.router.settings.urgent_kinds
        self.locales = await self.router.locales([t.person for t in self.targets]) if note.facts is not None else {}
        reached, unreached, waiting = 0, 0, []
        gate = asyncio.Semaphore(PEOPLE_AT_ONCE)

        async def one(target: Target) -> tuple[bool, bool]:
            async with gate:  # people at once (one slow vendor must not use up the activity's time); channels in order
                return await self._reach(note, target, every)

        outcomes = await asyncio.gather(*(one(t) for t in self.targets))
        for target, (used, transient) in zip(self.targets, outcomes):
            if used:
                reached += 1
            elif transient:
                waiting.append(target.person)
            else:
                unreached += 1
        if waiting:
            raise TransientDeliveryError(f"{len(waiting)} person(s) not reached yet: every channel of theirs failed")
        return Delivery(delivered=reached, failed=unreached,
                        error=f"{unreached} person(s) refused on every channel" if unreached else None)

    def _in_order(self, note: Notification, target: Target) -> list:
        """The person's contacts in their order, except the phone: called first for an alert or an escalation
        (CRISIS_VOICE_KINDS, 002 §4.3.1), never for anything else."""
        voice = [c for c in target.contacts if c.channel == "voice"]
        rest = [c for c in target.contacts if c.channel != "voice"]
        return [*voice, *rest] if note.kind in self.router.settings.voice_kinds else rest

    async def _reach(self, note: Notification, target: Target, every: bool) -> tuple[bool, bool]:
        """(reached on some channel, some failure was only transient)."""
        used, transient = False, False
        note = for_person(note, self.locales.get(target.person), self.router.settings)  # their own language
        for contact in self._in_order(note, target):
            channel = self.router.personal.get(contact.channel)
            if channel is None:
                continue
            slot = f"{channel.name}>{target.person}"
            try:
                done = await self._slot_status(note.key, slot)
                if done == "failed":  # refused for good on an earlier attempt
                    raise DeliveryRefused(f"{channel.name} refused this before")
                if done == "calling":  # a call placed by an attempt that was cut off: never rung twice
                    raise CallNotAnswered("unanswered")
                if done != "sent" and getattr(channel, "rings", False):
                    await self._record(note.key, slot, "calling", None)
                if done != "sent":
                    outcome = await channel.send(note, contact.address, self.router.text(note, target.person, channel.name))
                    await self._record(note.key, slot, "sent", None)
                    if isinstance(outcome, str):  # a call says how it went: `voice:answered` on the timeline
                        self._note(f"{channel.name}:{outcome}")
            except TransientDeliveryError as err:  # rate limited or unavailable: worth another try later
                if getattr(channel, "rings", False):  # the call was not placed: a later attempt may ring
                    await self._record(note.key, slot, "retrying", str(err))
                limited = isinstance(err, RateLimited)
                self._note(f"{channel.name}:{'rate_limited' if limited else 'failed'}")
                transient = True
                log.warning(f"channel {'rate limited' if limited else 'unavailable'}, trying the next",
                            case_id=note.case_id, key=note.key, channel=channel.name, error=str(err))
                continue
            except DeliveryRefused as err:
                self._note(f"{channel.name}:{getattr(err, 'outcome', 'failed')}")  # voice:unanswered
                await self._record(note.key, slot, "failed", str(err))
                log.warning("channel refused, trying the next", case_id=note.case_id, key=note.key,
                            channel=channel.name, error=str(err))
                continue
            self._note(channel.name)
            used = True
            if not every:
                break
        return used, transient

    async def _slot_status(self, key: str, slot: str) -> str | None:
        try:
            async with self.router.pool.acquire(timeout=SLOT_WAIT_S) as conn:
                return await conn.fetchval(
                    "SELECT status FROM notification_deliveries WHERE key = $1 AND channel = $2", key, slot)
        except OUTAGE:
            return None  # without the outbox: send (the receiver may see a copy after a retry)

    async def _record(self, key: str, slot: str, status: str, error: str | None) -> None:
        try:
            async with self.router.pool.acquire(timeout=SLOT_WAIT_S) as conn:
                await conn.execute(
                    """INSERT INTO notification_deliveries (key, channel, status, delivered, failed, error, attempts)
                       VALUES ($1, $2, $3, $4, $5, $6, 1)
                       ON CONFLICT (key, channel) DO UPDATE SET status = EXCLUDED.status,
                           delivered = EXCLUDED.delivered, failed = EXCLUDED.failed, error = EXCLUDED.error,
                           attempts = notification_deliveries.attempts + 1, updated_at = now()""",
                    key, slot, status, int(status == "sent"), int(status == "failed"), error)
        except (*OUTAGE, asyncpg.ForeignKeyViolationError):
            pass  # no outbox row (PostgreSQL was down when the notification began): nothing to record against


def receipt_channels(channels: list[str], delivered: list[Channel]) -> list[str]:
    """The receipt's channels with `people` replaced by what the people channel used and what failed."""
    summaries = {c.name: c.summary for c in delivered if isinstance(c, PeopleDelivery)}  # people, customer
    if not summaries:
        return channels
    out: list[str] = []
    for name in channels:
        out.extend(summaries.get(name, [name]))
    return list(dict.fromkeys(out))
