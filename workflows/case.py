"""CrisisWorkflow: one case, from intake to closure, run by the playbook pinned when it opened.

The run loop is small on purpose: settle what the case asked for (activities), sleep until the next
deadline or the next action, let time do what the playbook says. The rules live in `steps`,
`casefile`, `deadlines` and `authority`; this module is the durable shell around them.
"""

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models import effects as fx
    from crisisdesk.models.actions import ACTION_NAMES, ActionRefused, parse_action
    from crisisdesk.models.case import ActionResult, CaseStatus, TimelineEvent
    from crisisdesk.models.intake import Intake
    from crisisdesk.names import REFUSAL_RECORDED, WORKFLOW_TYPE
    from workflows.casefile import CaseFile
    from workflows.state import ContinuedCase, Effect
    from workflows.steps import apply

# Records must land: retry until PostgreSQL is back (the case waits, nothing is lost).
RECORD = dict(start_to_close_timeout=timedelta(seconds=30),
              retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)))
# Messages to people: a few tries, then the failure goes on the timeline and the case goes on.
DELIVER = dict(start_to_close_timeout=timedelta(seconds=60),
               retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5,
                                        non_retryable_error_types=["PlaybookError", "EvidenceRefused"]))
EVIDENCE = dict(start_to_close_timeout=timedelta(minutes=10), heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["EvidenceRefused"]))
REPORT_EVENTS = 300  # the most recent events a report is rendered with; PostgreSQL has them all


class CrisisWorkflow:
    @workflow.init
    def __init__(self, start: Intake | ContinuedCase) -> None:
        self.case: CaseFile | None = CaseFile(start.continued) if isinstance(start, ContinuedCase) else None
        self.woken = False
        self.search_attributes: dict = {}

    @workflow.run
    async def run(self, start: Intake | ContinuedCase) -> CaseStatus:
        """Starters send one `Intake`; a continued run gets the case it carries on."""
        if isinstance(start, Intake):
            intake = start
            case_id = workflow.info().workflow_id
            opened = await workflow.execute_activity(
                "open_case", fx.OpenCase(case_id=case_id, intake=intake, playbook=intake.playbook,
                                         opened_at=workflow.now()),
                result_type=fx.CaseOpened, **RECORD)
            self.case = CaseFile.open(case_id, intake, opened.playbook, workflow.now())
        else:
            self.case.record(workflow.now(), "continued", "continue_as_new", run=self.case.state.runs)

        while True:
            await self.settle()
            if self.case.state.stage.is_final:
                break
            if self.history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self.settle()
                self.case.state.runs += 1
                workflow.continue_as_new(ContinuedCase(continued=self.case.state))
            await self.sleep_until(self.case.next_wakeup())
            self.case.tick(workflow.now())

        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.settle()
        return self.case.status()

    # -- time ---------------------------------------------------------------------------------
    async def sleep_until(self, wake: datetime | None) -> None:
        """Until the next deadline falls due or an action changes the case, whichever is first."""
        self.woken = False
        timeout = None if wake is None else wake - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self.woken, timeout=timeout)
        except asyncio.TimeoutError:
            pass  # a deadline fell due: tick() handles it

    def history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.case.state.playbook.history_limit

    # -- actions: every name is a signal and an update (registered below the class) --------------
    def parse(self, name: str, payload: RawValue | None) -> Any:
        if payload is None:
            raise ActionRefused(f"{name}: expected one JSON object with at least 'by', got nothing")
        try:
            value = workflow.payload_converter().from_payload(payload.payload)
        except Exception:
            raise ActionRefused(f"{name}: the input is not valid JSON") from None
        return parse_action(name, value)

    def validate(self, name: str, payload: RawValue | None) -> None:
        action = self.parse(name, payload)
        if self.case is None or name == "add_evidence":
            return  # opening, or capture decides: the handler checks for real
        with self.case.attempt(commit=False):
            apply(self.case, name, action, workflow.now())

    async def on_update(self, name: str, payload: RawValue | None) -> ActionResult:
        await workflow.wait_condition(lambda: self.case is not None)
        try:
            message = await self.take(name, self.parse(name, payload))
        except ActionRefused as refusal:
            self.refuse(name, payload, refusal, via="update")
            raise ApplicationError(str(refusal), REFUSAL_RECORDED, type="ActionRefused", non_retryable=True) from None
        return ActionResult(accepted=True, action=name, stage=self.case.state.stage, message=message)

    async def on_signal(self, name: str, payload: RawValue | None) -> None:
        if self.case is None:
            await workflow.wait_condition(lambda: self.case is not None)
        try:
            await self.take(name, self.parse(name, payload))
        except ActionRefused as refusal:
            self.refuse(name, payload, refusal, via="signal")

    async def take(self, name: str, action) -> str:
        if name == "add_evidence":
            return await self.capture_evidence(action)
        with self.case.attempt():
            message = apply(self.case, name, action, workflow.now())
        self.woken = True
        return message

    def refuse(self, name: str, payload: RawValue | None, refusal: ActionRefused, via: str) -> None:
        by = None
        try:
            raw = workflow.payload_converter().from_payload(payload.payload) if payload else None
            by = raw.get("by") if isinstance(raw, dict) and isinstance(raw.get("by"), str) else None
        except Exception:
            pass
        self.case.record(workflow.now(), "rejected", name, by=by, reason=str(refusal), via=via)
        self.case.state.bump("rejected")
        workflow.logger.info("action refused", extra={"case_id": self.case.state.case_id, "action": name, "via": via})
        self.woken = True

    async def capture_evidence(self, action) -> str:
        if self.case.state.stage.is_final:
            raise ActionRefused(f"add_evidence: the case is {self.case.state.stage.value}")
        key = f"{self.case.state.case_id}:evidence:{workflow.info().run_id}:{workflow.uuid4()}"
        try:
            receipt = await workflow.execute_activity(
                "capture_evidence", fx.CaptureEvidence(
                    key=key, case_id=self.case.state.case_id, by=action.by, kind=action.kind,
                    description=action.description, content_base64=action.content_base64, uri=action.uri,
                    captured_at=action.captured_at or workflow.now(), location=action.location),
                result_type=fx.EvidenceReceipt, **EVIDENCE)
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            raise ActionRefused(f"add_evidence: {reason}") from None
        with self.case.attempt():
            apply(self.case, "add_evidence", action, workflow.now())
            self.case.record(workflow.now(), "evidence", action.kind, by=action.by, sha256=receipt.sha256,
                             size=receipt.size, media_type=receipt.media_type, evidence_id=receipt.evidence_id,
                             custody=f"captured by {action.by}")
        self.woken = True
        return f"evidence {receipt.evidence_id} stored, sha256 {receipt.sha256}"

    # -- effects: what the case asked the world to do --------------------------------------------
    async def settle(self) -> None:
        """Run queued effects, record new events in PostgreSQL, refresh the search attributes."""
        while True:
            queued, self.case.effects = self.case.effects, []
            for effect in queued:
                await self.run_effect(effect)
            state = self.case.state
            if state.recorded_seq < state.seq:
                new = [e for e in state.events if e.seq > state.recorded_seq]
                await workflow.execute_activity(
                    "record_timeline", fx.RecordTimeline(case_id=state.case_id, status=self.case.status(), events=new),
                    result_type=fx.Recorded, **RECORD)
                state.recorded_seq = new[-1].seq
            self.upsert_search_attributes()
            if not self.case.effects and self.case.state.recorded_seq == self.case.state.seq:
                return

    async def run_effect(self, effect: Effect) -> None:
        case, state, data = self.case, self.case.state, effect.data
        at = datetime.fromisoformat(data["at"])
        try:
            if effect.kind == "notify":
                await self.send(effect.key, data["kind"], data["subject"], data["body"], data["recipients"], at)
            elif effect.kind == "report":
                status = case.status()
                receipt = await workflow.execute_activity(
                    "write_report", fx.WriteReport(key=effect.key, case_id=state.case_id, kind=data["kind"],
                                                   reason=data["reason"], status=status,
                                                   timeline=state.events[-REPORT_EVENTS:], at=at),
                    result_type=fx.ReportReceipt, **RECORD)
                state.bump("reports")
                case.record(workflow.now(), "report", data["kind"], report_id=receipt.report_id, title=receipt.title)
                roles = state.playbook.reporting.recipients
                await self.send(f"{effect.key}:sent", "report", receipt.title, receipt.summary,
                                [{"role": r, "person": state.roles.get(r, r)} for r in roles], at)
            elif effect.kind == "stakeholder":
                ref = await workflow.execute_activity(
                    "store_stakeholder", fx.StoreStakeholder(key=effect.key, case_id=state.case_id,
                                                             **{k: v for k, v in data.items() if k != "at"}),
                    result_type=fx.StakeholderRef, **RECORD)
                case.record(workflow.now(), "stakeholder_stored", "stakeholder", stakeholder_id=ref.stakeholder_id)
            elif effect.kind == "survey":
                sent = await workflow.execute_activity(
                    "send_survey", fx.SendSurvey(key=effect.key, case_id=state.case_id, at=at),
                    result_type=fx.SurveySent, **RECORD)
                reporter = state.intake.reporter
                if reporter.contact:
                    await self.send(f"{effect.key}:sent", "survey", "How did we do?",
                                    f"Please rate timeliness, effectiveness and attitude (survey {sent.token}).",
                                    [{"role": "reporter", "person": f"{reporter.name or 'Customer'} <{reporter.contact}>"}], at)
                case.record(workflow.now(), "survey_sent", "survey")
            elif effect.kind == "record_survey":
                await workflow.execute_activity(
                    "record_survey", fx.RecordSurvey(key=effect.key, case_id=state.case_id, **data),
                    result_type=fx.Recorded, **RECORD)
            elif effect.kind == "knowledge":
                saved = await workflow.execute_activity(
                    "save_knowledge", fx.SaveKnowledge(key=effect.key, case_id=state.case_id,
                                                       category=state.category.value if state.category else None, **data),
                    result_type=fx.KnowledgeSaved, **RECORD)
                case.record(workflow.now(), "knowledge", data["title"], article_id=saved.article_id)
        except ActivityError as err:
            # Only DELIVER-style activities give up; the case records it and goes on.
            case.record(workflow.now(), "effect_failed", effect.kind, key=effect.key, error=str(err.cause or err))

    async def send(self, key: str, kind: str, subject: str, body: str, recipients: list[dict], at: datetime) -> None:
        try:
            receipt = await workflow.execute_activity(
                "notify", fx.Notification(key=key, case_id=self.case.state.case_id, kind=kind, subject=subject,
                                          body=body, recipients=[fx.Recipient(**r) for r in recipients], at=at),
                result_type=fx.NotificationReceipt, **DELIVER)
        except ActivityError as err:
            self.case.record(workflow.now(), "notification", kind, status="failed", error=str(err.cause or err),
                             roles=[r["role"] for r in recipients])
            self.case.state.bump("notifications_failed")
            return
        self.case.state.bump("notifications")
        self.case.record(workflow.now(), "notification", kind, status=receipt.status, channels=receipt.channels,
                         roles=[r["role"] for r in recipients], subject=subject)

    def upsert_search_attributes(self) -> None:
        wanted = self.case.search_attributes()
        changes = [key.value_set(value) if value is not None else key.value_unset()
                   for key, value in wanted.items() if self.search_attributes.get(key.name, "∅") != value]
        if changes:
            workflow.upsert_search_attributes(changes)
            self.search_attributes = {key.name: value for key, value in wanted.items()}

    # -- queries --------------------------------------------------------------------------------
    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        if self.case is None:
            raise ApplicationError("the case is opening; ask again in a moment")
        return self.case.status()

    @workflow.query(name="timeline")
    def timeline(self) -> list[TimelineEvent]:
        return self.case.state.events if self.case else []

    # -- unknown names: refused, and recorded, never dropped ---------------------------------------
    @workflow.signal(dynamic=True)
    async def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        await self.on_signal(name, args[0] if args else None)

    @workflow.update(dynamic=True)
    async def unknown_update(self, name: str, args: Sequence[RawValue]) -> ActionResult:
        return await self.on_update(name, args[0] if args else None)

    @unknown_update.validator
    def validate_unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        raise ActionRefused(f"unknown action {name!r}: see docs/operators.md for the list")


def _action_handlers(name: str) -> tuple[Any, Any]:
    """A signal and an update named after the action, both taking one raw JSON argument."""

    async def signal(self, payload: RawValue = None) -> None:  # type: ignore[assignment]
        await self.on_signal(name, payload)

    async def update(self, payload: RawValue = None) -> ActionResult:  # type: ignore[assignment]
        return await self.on_update(name, payload)

    def validator(self, payload: RawValue = None) -> None:  # type: ignore[assignment]
        self.validate(name, payload)

    signal.__name__, update.__name__ = f"signal_{name}", f"update_{name}"
    update_handler = workflow.update(name=name)(update)
    update_handler.validator(validator)
    return workflow.signal(name=name)(signal), update_handler


for _name in ACTION_NAMES:
    _signal, _update = _action_handlers(_name)
    setattr(CrisisWorkflow, _signal.__name__, _signal)
    setattr(CrisisWorkflow, _update.__name__, _update)

# Registered after the class body so the per-action handlers above are part of the definition.
workflow.defn(name=WORKFLOW_TYPE)(CrisisWorkflow)
