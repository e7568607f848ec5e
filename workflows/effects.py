"""What a case asks of the world, run beside its deadlines: effects and the record.

Each effect (a notification, a report, a stakeholder's details, a survey, a lesson for the knowledge
base) runs as its own task the moment it is queued, and the record of the timeline is shipped to
PostgreSQL by one background task. The run loop never awaits either: a deadline falls due, breaches
and escalates on time while PostgreSQL is down or a mail server hangs; the record catches up, in
order and exactly once (rows are keyed by case and seq), when it can.

Record keeping is a local activity: a marker in the same workflow task as the change it records,
instead of three history events and a workflow task of its own.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from crisisdesk import i18n
    from crisisdesk.models import effects as fx
    from workflows.casefile import reporter_recipients
    from workflows.casefile import CaseFile
    from workflows.state import Effect

RECORD_BATCH = 500  # events per record_timeline call
# Records must land: retried until PostgreSQL answers. Past a few seconds the retries wait on a timer,
# so no workflow task is held open through an outage.
BOOKKEEPING = dict(start_to_close_timeout=timedelta(seconds=10), local_retry_threshold=timedelta(seconds=5),
                   retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                                            non_retryable_error_types=["RecordRejected"]))
# Messages to people: a few tries, then the failure goes on the timeline and the case goes on.
DELIVER = dict(start_to_close_timeout=timedelta(seconds=60),
               retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5,
                                        non_retryable_error_types=["PlaybookError"]))
# Reports render and are stored (PostgreSQL), then sent: retried until they land.
REPORT = dict(start_to_close_timeout=timedelta(minutes=2),
              retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1)))
ADMIN_ROLE = "admin"


# Effects run as local activities: their results arrive without a workflow task of their own.
BOOKKEEPING_EFFECTS = frozenset({"stakeholder", "record_survey", "knowledge"})
# Effects that tell people (their attempts end within minutes, or when PostgreSQL, which records
# need too, is back), and the timeline events that only say how one went.
DELIVERIES = frozenset({"notify", "report", "survey"})
RECEIPTS = frozenset({"notification", "report", "survey_sent"})
# Notifications that alert people (whoever they reach may acknowledge).
ALERTS = frozenset({"alert", "breach", "reminder", "escalated", "external", "escalation"})


class EffectRunner:
    """Mixed into CrisisWorkflow: `self.case` is its CaseFile; `self.changed()` wakes the run loop."""

    case: CaseFile
    inflight: dict[str, Effect]

    def ready_to_record(self) -> bool:
        """Whether the case has taken stock of what just happened (CrisisWorkflow waits for its run loop)."""
        return True

    def dispatch(self) -> None:
        """Start every queued effect as its own task (deterministic: tasks start in queue order)."""
        queued, self.case.effects = self.case.effects, []
        for effect in queued:
            if effect.key in self.inflight:
                continue  # carried over and already running
            self.inflight[effect.key] = effect
            asyncio.create_task(self._run(effect))

    async def _run(self, effect: Effect) -> None:
        try:
            await self.run_effect(effect)
        except GeneratorExit:  # the worker is discarding this run (evicted): there is nothing to tidy
            raise
        except BaseException:
            self._done(effect)
            raise
        self._done(effect)

    def _done(self, effect: Effect) -> None:
        self.inflight.pop(effect.key, None)
        if effect.kind in BOOKKEEPING_EFFECTS:
            # A local activity's result: nothing for the run loop to take stock of, and the time
            # read here would not replay the same (see CrisisWorkflow.changed_at).
            self.dispatch()
        else:
            self.changed()

    async def run_effect(self, effect: Effect) -> None:
        case, state, data = self.case, self.case.state, effect.data
        at = datetime.fromisoformat(data["at"])
        try:
            if effect.kind == "notify":
                await self.send(effect.key, data, at)
            elif effect.kind == "report":
                roles = state.playbook.reporting.recipients
                receipt = await workflow.execute_activity(
                    "write_report", fx.WriteReport(
                        key=effect.key, case_id=state.case_id, kind=data["kind"], reason=data["reason"],
                        status=case.status(), timeline=case.unrecorded(), at=at,
                        recipients=[fx.Recipient(role=r, person=state.roles.get(r)) for r in roles],
                        project_id=state.intake.project.id),
                    result_type=fx.ReportReceipt, summary=f"{data['kind']} report: {i18n.say(data['reason'])}"[:200], **REPORT)
                state.bump("reports")
                case.record(workflow.now(), "report", data["kind"], report_id=receipt.report_id, title=receipt.title)
                if receipt.sent is not None:
                    self.note_delivery("report", receipt.sent, roles, receipt.title)
            elif effect.kind == "stakeholder":
                ref = await workflow.execute_local_activity(
                    "store_stakeholder", fx.StoreStakeholder(key=effect.key, case_id=state.case_id,
                                                             **{k: v for k, v in data.items() if k != "at"}),
                    result_type=fx.StakeholderRef, **BOOKKEEPING)
                case.record(state.updated_at, "stakeholder_stored", data.get("role", "stakeholder"),
                            stakeholder_id=ref.stakeholder_id)
            elif effect.kind == "survey":
                reporters = reporter_recipients(state)
                sent = await workflow.execute_activity(
                    "send_survey", fx.SendSurvey(
                        key=effect.key, case_id=state.case_id, at=at,
                        recipient=fx.Recipient(**reporters[0]) if reporters else None,
                        locale=state.intake.reporter.locale or state.intake.project.locale,
                        timezone=state.intake.project.timezone),
                    result_type=fx.SurveySent, summary="satisfaction survey to the reporter", **REPORT)
                case.record(workflow.now(), "survey_sent", "survey", delivered=sent.delivered)
            elif effect.kind == "record_survey":
                await workflow.execute_local_activity(
                    "record_survey", fx.RecordSurvey(key=effect.key, case_id=state.case_id, **data),
                    result_type=fx.Recorded, **BOOKKEEPING)
            elif effect.kind == "knowledge":
                saved = await workflow.execute_local_activity(
                    "save_knowledge", fx.SaveKnowledge(key=effect.key, case_id=state.case_id,
                                                       category=state.category.value if state.category else None, **data),
                    result_type=fx.KnowledgeSaved, **BOOKKEEPING)
                case.record(state.updated_at, "knowledge", data["title"], article_id=saved.article_id)
        except ActivityError as err:
            at = state.updated_at if effect.kind in BOOKKEEPING_EFFECTS else workflow.now()
            case.record(at, "effect_failed", effect.kind, key=effect.key, error=str(err.cause or err))

    async def send(self, key: str, data: dict, at: datetime) -> None:
        """Facts, not prose: the notify activity writes the words in each reader's locale."""
        state = self.case.state
        kind, recipients = data["kind"], data["recipients"]
        roles = [r["role"] for r in recipients]
        try:
            receipt = await workflow.execute_activity(
                "notify", fx.Notification(key=key, case_id=state.case_id, kind=kind, wording=data.get("wording", kind),
                                          facts=data.get("facts", {}), customer=data.get("customer", False),
                                          locale=data.get("locale"), timezone=data.get("timezone"),
                                          recipients=[fx.Recipient(**r) for r in recipients], at=at,
                                          project_id=state.intake.project.id, escalation_level=data.get("level", 0)),
                result_type=fx.NotificationReceipt, summary=f"notify {', '.join(roles) or 'nobody'}: {kind}"[:200],
                **DELIVER)
        except ActivityError as err:
            self.case.record(workflow.now(), "notification", kind, status="failed", error=str(err.cause or err), roles=roles)
            state.bump("notifications_failed")
            return
        self.note_delivery(kind, receipt, roles, receipt.subject)

    def note_delivery(self, kind: str, receipt: "fx.NotificationReceipt", roles: list[str], subject: str | None = None) -> None:
        state = self.case.state
        state.bump("notifications")
        if kind in ALERTS:
            state.remember("alerted", receipt.people)
            # Nobody forgotten (issue 30): who the alert reached, and which of its roles only the fallback
            # (the default team, the directory's admins) or nobody at all did; the sheet leads with it.
            state.last_alert = {"kind": kind, "roles": roles, "people": list(receipt.people)[:20],
                                "unresolved": list(receipt.unresolved)[:20]}
        self.case.record(workflow.now(), "notification", kind, status=receipt.status, channels=receipt.channels,
                         roles=roles, people=receipt.people or None, unresolved=receipt.unresolved or None,
                         subject=subject or None)

    async def record_forever(self) -> None:
        """Ship new events to PostgreSQL, oldest first, for as long as the run lasts."""
        case = self.case
        while True:
            await workflow.wait_condition(lambda: case.state.recorded_seq < case.state.seq and self.ready_to_record())
            state = case.state
            batch = case.unrecorded()[:RECORD_BATCH]
            opening = None
            if state.recorded_seq == 0:
                opening = fx.CaseOpening(intake=state.intake, playbook=state.playbook, received_at=state.received_at,
                                         opened_at=batch[0].at)
            try:
                await workflow.execute_local_activity(
                    "record_timeline", fx.RecordTimeline(case_id=state.case_id, status=case.status(), events=batch,
                                                         opening=opening, scrub=state.scrub_records),
                    result_type=fx.Recorded, **BOOKKEEPING)
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type == "RecordRejected" and not state.scrub_records:
                    # PostgreSQL refused this text as data (not an outage): say so, tell the admins, and
                    # store it scrubbed from now on rather than retry for ever.
                    state.scrub_records = True
                    state.bump("record_rejected")
                    event = case.record(state.updated_at, "record_rejected", "timeline", reason=cause.message[:500])
                    case.notify(event, "record_rejected", [ADMIN_ROLE], error=cause.message[:300])
                    self.dispatch()
                else:  # cancelled or timed out for good: never stop recording, try again shortly
                    workflow.logger.warning("record_timeline failed; retrying", extra={"case_id": state.case_id})
                    await workflow.sleep(timedelta(seconds=30), summary="record keeping retries")
                continue
            case.mark_recorded(batch[-1].seq)

    def receipts_can_wait(self) -> bool:
        """Whether what waits to be recorded is only receipts while a delivery is still under way: its
        receipt follows soon, and they go on the record together. Reads of the timeline see them
        meanwhile (the case answers what PostgreSQL lacks)."""
        if not any(effect.kind in DELIVERIES for effect in self.inflight.values()):
            return False
        done = self.case.state.recorded_seq
        return all(e.kind in RECEIPTS for e in self.case.state.events if e.seq > done)

    def records_settled(self) -> bool:
        return not self.inflight and not self.case.effects and self.case.state.recorded_seq == self.case.state.seq
