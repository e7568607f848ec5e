"""A review's follow-up actions, each reminded to its owner from its due date until marked done.

One small workflow per reviewed case (`<case_id>:follow-ups`), started by the case as a child that
outlives it: the case closes at its review, the learning goes on. `crisis stuck` lists it while an
item is overdue (`CrisisNextDeadline`, as for cases). `follow_up_done` (signal or update, input
`{"by": ..., "what": ...}`) marks an item done: its owner or the head may.
"""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from crisisdesk import i18n
    from crisisdesk.converter import REFUSAL_TYPE
    from crisisdesk.models import effects as fx
    from crisisdesk.models.followups import FOLLOW_UP_WORKFLOW, FollowUpItem, FollowUps
    from crisisdesk.names import SA_NEXT_DEADLINE, SA_OWNER, SA_PROJECT, SA_STAGE
    from workflows.effects import DELIVER


@workflow.defn(name=FOLLOW_UP_WORKFLOW)
class FollowUpWorkflow:
    @workflow.init
    def __init__(self, start: FollowUps) -> None:
        self.plan = start
        self.changed = False

    @workflow.run
    async def run(self, start: FollowUps) -> FollowUps:
        for item in self.plan.items:
            item.next_alert_at = item.next_alert_at or item.due_at
        while self.open():
            self.publish()
            wake = min(i.next_alert_at for i in self.open())
            self.changed = False
            now = workflow.now()
            if wake > now:
                try:
                    await workflow.wait_condition(lambda: self.changed, timeout=wake - now,
                                                  timeout_summary="the next follow-up falls due")
                except asyncio.TimeoutError:
                    pass
            now = workflow.now()
            for item in [i for i in self.open() if i.next_alert_at <= now]:
                item.reminders += 1
                item.next_alert_at = now + self.plan.remind_every
                await self.remind(item, now)
        self.publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.plan

    def open(self) -> list[FollowUpItem]:
        return [i for i in self.plan.items if i.done_at is None]

    async def remind(self, item: FollowUpItem, now) -> None:
        key = f"{self.plan.case_id}:follow-up:{self.plan.items.index(item)}:{item.reminders}"
        try:
            await workflow.execute_activity(
                "notify", fx.Notification(
                    key=key, case_id=self.plan.case_id, kind="follow_up_due", project_id=self.plan.project_id,
                    facts={"case_id": self.plan.case_id, "what": item.what[:300], "due_at": item.due_at.isoformat()},
                    locale=self.plan.locale, timezone=self.plan.timezone,
                    recipients=[fx.Recipient(role="follow_up_owner", person=item.owner)], at=now),
                result_type=fx.NotificationReceipt, summary=f"follow-up reminder: {item.what}"[:200], **DELIVER)
        except Exception:  # a reminder that cannot be sent is retried at the next one
            workflow.logger.warning("follow-up reminder failed", extra={"case_id": self.plan.case_id})

    def publish(self) -> None:
        open_ = self.open()
        workflow.upsert_search_attributes([
            SA_STAGE.value_set("follow_up" if open_ else "follow_up_done"),
            SA_PROJECT.value_set(self.plan.project_id) if self.plan.project_id else SA_PROJECT.value_unset(),
            SA_OWNER.value_set(min(open_, key=lambda i: i.due_at).owner) if open_ else SA_OWNER.value_unset(),
            SA_NEXT_DEADLINE.value_set(min(i.due_at for i in open_)) if open_ else SA_NEXT_DEADLINE.value_unset(),
        ])

    @workflow.query(name="follow_ups", description="The review's follow-up actions: owner, due date, done or not.")
    def follow_ups(self) -> FollowUps:
        return self.plan

    @workflow.update(name="follow_up_done", description='Marks a follow-up done. Input: {"by": "Zhang", "what": '
                                                        '"<the follow-up\'s text>"}; its owner or the head.')
    async def follow_up_done(self, *args: Any) -> FollowUps:
        reason = self.refusal(args)
        if reason:
            raise ApplicationError(reason, type=REFUSAL_TYPE, non_retryable=True)
        by, what = args[0]["by"], args[0]["what"]
        item = next(i for i in self.open() if i.what == what)
        item.done_at, item.done_by = workflow.now(), by
        self.changed = True
        return self.plan

    def refusal(self, args: tuple) -> str | None:
        if len(args) != 1 or not isinstance(args[0], dict) or not isinstance(args[0].get("by"), str) \
                or not isinstance(args[0].get("what"), str):
            return self.words("refuse.follow_up_input")
        by, what = args[0]["by"], args[0]["what"]
        item = next((i for i in self.open() if i.what == what), None)
        if item is None:
            return self.words("refuse.no_follow_up", what=what[:200],
                              open="; ".join(i.what for i in self.open())[:500] or i18n.said("refuse.none"))
        if by not in (item.owner, self.plan.head):
            return self.words("refuse.follow_up_owner", owner=item.owner, head=self.plan.head, by=by)
        return None

    def words(self, msg_id: str, **args) -> str:
        """A refusal from the catalogue, in the case's project language (the Web UI shows it as it is)."""
        return i18n.text(self.plan.locale, msg_id, tz=self.plan.timezone, **args)

