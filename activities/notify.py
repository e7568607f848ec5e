"""Notifications: an outbox row per key, then delivery through each channel exactly once.

Each (key, channel) has a delivery row that is locked while that channel sends and records the
outcome afterwards. A retry (or a second call with the same key) skips every channel already
`sent` or permanently `failed`, so nothing is sent twice; a transient failure is recorded as
`retrying` and raised, and Temporal's retry tries that channel again.
The one unavoidable window: the process dies after a channel accepted the message and before the
outcome was committed. For that, SMTP messages carry a Message-ID derived from the key and the
webhook an `Idempotency-Key` header, so the receiver can drop the duplicate.

The outbox is bookkeeping, and an alert must not wait for it: while PostgreSQL is unreachable the
notification goes out through every channel without it (a retry may then resend, and the same
Message-ID / Idempotency-Key lets the receiver drop the copy); the timeline still records it.
"""

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import OUTAGE
from activities.recipients import Resolver
from activities.channels import build_channels, build_personal_channels
from activities.delivery import Channel, Delivery, PersonalChannel, TransientDeliveryError
from activities.customer_reach import CustomerDelivery, CustomerWebhook
from activities.reach import Router, receipt_channels
from activities.wording import written
from crisisdesk.logs import log
from crisisdesk.customerlinks import reporter_id
from crisisdesk.models.effects import Notification, NotificationReceipt, Recipient
from crisisdesk.models.intake import contacts_from_register
from crisisdesk.sealing import Sealer
from crisisdesk.settings import Settings


# How long an alert waits for a connection to its outbox before going out without it.
OUTBOX_WAIT_S = 5.0


class Notifier:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, channels: list[Channel] | None = None,
                 personal: dict[str, PersonalChannel] | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.channels = channels if channels is not None else build_channels(settings)
        self.resolver = Resolver(pool, settings)
        self.sealer = Sealer.from_settings(settings)
        # Each directory person through their own channels (activities/reach.py), as one channel `people`.
        self.router = Router(pool, settings, personal if personal is not None else (
            build_personal_channels(settings) if channels is None else {}))
        self.customer_channels = customer_channels(settings, self.router.personal)

    @activity.defn(name="notify")
    async def notify(self, note: Notification) -> NotificationReceipt:
        note = written(note, self.settings)  # the words, from the case's facts, in the reader's locale
        reporters = [r for r in note.recipients if r.reporter]
        if reporters:  # customers go through their own channels with their link (activities.customer_reach)
            note = note.model_copy(update={"recipients": [r for r in note.recipients if not r.reporter]})
            reporters += await self.joined_reporters(note.case_id)
        found = await self.resolver.resolve_people(note)
        note, people, unresolved = found.note, found.people, found.unresolved
        channels = self.router.channels_for(found, self.channels)
        if reporters:
            channels = [*channels, CustomerDelivery(self.router, reporters, self.customer_channels)]
            people = [*people, *(["reporter"] if "reporter" not in people else [])]
        try:
            receipt = await self._notify_through_outbox(note, channels)
        except OUTAGE as err:
            log.warning("notification outbox unreachable, sending without it", case_id=note.case_id,
                        key=note.key, error=type(err).__name__)
            receipt = await self._notify_directly(note, channels)
        receipt = receipt.model_copy(update={"people": people, "unresolved": unresolved, "subject": note.subject[:300],
                                             "channels": receipt_channels(receipt.channels, channels)})
        log.info("notification done", case_id=note.case_id, kind=note.kind, key=note.key,
                 status=receipt.status, channels=receipt.channels,
                 delivered=receipt.delivered, failed=receipt.failed)
        return receipt

    async def joined_reporters(self, case_id: str) -> list[Recipient]:
        """Every reporter who joined the case (a group complaint) hears what its own reporter hears, with
        their own link: their contacts from the sealed register (typed again: phones and e-mail addresses)."""
        try:
            async with self.pool.acquire(timeout=OUTBOX_WAIT_S) as conn:
                rows = await conn.fetch(
                    """SELECT DISTINCT ON (report_id) report_id, contact FROM stakeholders
                       WHERE case_id = $1 AND role = 'reporter' AND report_id IS NOT NULL AND purged_at IS NULL
                       ORDER BY report_id, stakeholder_id""", case_id)
        except OUTAGE:
            return []
        found = []
        for row in rows:
            contact = self.sealer.open(row["contact"], "stakeholders.contact")
            typed = contacts_from_register(contact) if contact else None
            if typed:
                found.append(Recipient(role="reporter", reporter=reporter_id(row["report_id"]),
                                       contacts=[c.model_dump() for c in typed]))
        return found

    async def _notify_directly(self, note: Notification, channels: list[Channel]) -> NotificationReceipt:
        outcomes: dict[str, Delivery] = {}
        for channel in channels:
            try:
                outcomes[channel.name] = await channel.deliver(note)
            except TransientDeliveryError as err:
                raise ApplicationError(f"{channel.name}: {err}", type="DeliveryUnavailable") from None
        return _receipt(note.key, outcomes)

    async def _notify_through_outbox(self, note: Notification, channels: list[Channel]) -> NotificationReceipt:
        async with self.pool.acquire(timeout=OUTBOX_WAIT_S) as conn:
            await conn.execute(
                """INSERT INTO notifications (key, case_id, kind, subject, body, recipients, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING""",
                note.key, note.case_id, note.kind, note.subject, note.body,
                [{"role": r.role, "person": self.sealer.seal(r.person, "notifications.person")} if r.person
                 else {"role": r.role} for r in note.recipients], note.at,
            )
        outcomes: dict[str, Delivery] = {}
        for channel in channels:
            outcomes[channel.name] = await self._deliver_once(channel, note)
        receipt = _receipt(note.key, outcomes)
        async with self.pool.acquire(timeout=OUTBOX_WAIT_S) as conn:
            await conn.execute(
                "UPDATE notifications SET status = $2, updated_at = now() WHERE key = $1",
                note.key, receipt.status,
            )
        return receipt

    async def _deliver_once(self, channel: Channel, note: Notification) -> Delivery:
        """Deliver through one channel unless that was already done for this key."""
        transient: str | None = None
        async with self.pool.acquire(timeout=OUTBOX_WAIT_S) as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO notification_deliveries (key, channel, status) VALUES ($1, $2, 'pending')
                   ON CONFLICT (key, channel) DO NOTHING""",
                note.key, channel.name,
            )
            try:
                row = await conn.fetchrow(
                    """SELECT status, delivered, failed, error FROM notification_deliveries
                       WHERE key = $1 AND channel = $2 FOR UPDATE NOWAIT""",
                    note.key, channel.name,
                )
            except asyncpg.LockNotAvailableError:
                # Another attempt is sending this very message right now: let Temporal retry later.
                raise ApplicationError(
                    f"{channel.name}: delivery of {note.key} is in progress elsewhere",
                    type="DeliveryInProgress",
                ) from None
            if row["status"] in ("sent", "failed"):
                return Delivery(delivered=row["delivered"], failed=row["failed"], error=row["error"])
            try:
                outcome = await channel.deliver(note)
            except TransientDeliveryError as err:
                transient = str(err)
                await conn.execute(
                    """UPDATE notification_deliveries
                       SET status = 'retrying', attempts = attempts + 1, error = $3, updated_at = now()
                       WHERE key = $1 AND channel = $2""",
                    note.key, channel.name, transient,
                )
            else:
                await conn.execute(
                    """UPDATE notification_deliveries
                       SET status = $3, delivered = $4, failed = $5, error = $6,
                           attempts = attempts + 1, updated_at = now()
                       WHERE key = $1 AND channel = $2""",
                    note.key, channel.name, "failed" if outcome.failed and not outcome.delivered else "sent",
                    outcome.delivered, outcome.failed, outcome.error,
                )
        if transient is not None:  # raised after the commit, so the attempt is on record
            log.warning("notification deferred", case_id=note.case_id, key=note.key,
                        channel=channel.name, error=transient)
            raise ApplicationError(f"{channel.name}: {transient}", type="DeliveryUnavailable")
        if outcome.error:
            log.warning("notification refused", case_id=note.case_id, key=note.key,
                        channel=channel.name, failed=outcome.failed, error=outcome.error)
        return outcome


def _receipt(key: str, outcomes: dict[str, Delivery]) -> NotificationReceipt:
    real = {name: o for name, o in outcomes.items() if name != "log"}
    delivered = sum(o.delivered for o in real.values())
    failed = sum(o.failed for o in real.values())
    errors = [f"{name}: {o.error}" for name, o in real.items() if o.error]
    if not delivered and not failed:
        status = "logged"
    elif not failed:
        status = "sent"
    elif delivered:
        status = "partial"
    else:
        status = "failed"
    return NotificationReceipt(
        key=key, status=status, channels=list(outcomes), delivered=delivered, failed=failed,
        error="; ".join(errors) or None,
    )


def customer_channels(settings: Settings, personal: dict) -> dict:
    """How reporters are reached: e-mail and SMS as people are, WeChat through the customer webhook."""
    found = {name: personal[name] for name in ("email", "sms") if name in personal}
    if settings.smtp_url is not None and "email" not in found:
        from activities.channels import SmtpChannel

        found["email"] = SmtpChannel(settings.smtp_url.get_secret_value())
    if settings.customer_webhook is not None:
        found["wechat"] = CustomerWebhook(settings.customer_webhook.get_secret_value())
    return found
