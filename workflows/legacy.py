"""The run loop of cases opened before records moved to the background (rules version 1).

Kept only so that those cases' histories replay exactly as they were written (Temporal compares the
commands a replay issues with the history): `CrisisWorkflow.run` takes this path when
`workflow.patched(PATCH_BACKGROUND)` is false, which happens only while replaying a run that
started before the patch. Such a run continues here until it closes or continues as new; its next
run takes the current path. Delete this module once no history recorded before the patch is open
(`crisis stuck --where "..."` and the replay tests say when).

The one change from the original: a record PostgreSQL rejects as data (`RecordRejected`, never
raised by the old activity) is scrubbed and retried instead of failing the case.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models import effects as fx
    from crisisdesk.models.case import CaseStatus
    from crisisdesk.models.intake import Intake
    from workflows.casefile import CaseFile
    from workflows.state import ContinuedCase, Effect

LEGACY_RECORD = dict(start_to_close_timeout=timedelta(seconds=30),
                     retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                                              non_retryable_error_types=["RecordRejected"]))
LEGACY_DELIVER = dict(start_to_close_timeout=timedelta(seconds=60),
                      retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5,
                                               non_retryable_error_types=["PlaybookError", "EvidenceRefused"]))
LEGACY_REPORT_EVENTS = 300


class LegacyLoop:
    """Mixed into CrisisWorkflow; `self.case`, `self.woken` and the handlers are the workflow's."""

    async def run_legacy(self, start: Intake | ContinuedCase) -> CaseStatus:
        if isinstance(start, Intake):
            opened = await workflow.execute_activity(
                "open_case", fx.OpenCase(case_id=workflow.info().workflow_id, intake=start, playbook=start.playbook,
                                         opened_at=workflow.now()),
                result_type=fx.CaseOpened, **LEGACY_RECORD)
            self.case = CaseFile.open(workflow.info().workflow_id, start, opened.playbook, workflow.now(),
                                      received_at=start.received_at or workflow.now(), rules=1)
        else:
            self.case.record(workflow.now(), "continued", "continue_as_new", run=self.case.state.runs)
        while True:
            await self.settle_legacy()
            if self.case.state.stage.is_final:
                break
            if self.history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self.settle_legacy()
                self.case.state.runs += 1
                workflow.continue_as_new(ContinuedCase(continued=self.case.state))
            self.woken = False
            wake = self.case.next_wakeup()
            timeout = None if wake is None else wake - workflow.now()
            if timeout is None or timeout > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self.woken, timeout=timeout)
                except asyncio.TimeoutError:
                    pass
            self.case.tick(workflow.now())
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.settle_legacy()
        return self.case.status()

    async def settle_legacy(self) -> None:
        while True:
            queued, self.case.effects = self.case.effects, []
            for effect in queued:
                await self.run_effect_legacy(effect)
            state = self.case.state
            if state.recorded_seq < state.seq:
                new = self.case.unrecorded()
                try:
                    await workflow.execute_activity(
                        "record_timeline", fx.RecordTimeline(case_id=state.case_id, status=self.case.status(),
                                                             events=new, scrub=state.scrub_records),
                        result_type=fx.Recorded, **LEGACY_RECORD)
                except ActivityError as err:
                    if not (isinstance(err.cause, ApplicationError) and err.cause.type == "RecordRejected"):
                        raise
                    state.scrub_records = True
                    continue
                self.case.mark_recorded(new[-1].seq)
            self.upsert_search_attributes()
            if not self.case.effects and self.case.state.recorded_seq == self.case.state.seq:
                return

    async def run_effect_legacy(self, effect: Effect) -> None:
        case, state, data = self.case, self.case.state, effect.data
        at = datetime.fromisoformat(data["at"])
        try:
            if effect.kind == "notify":
                await self.send_legacy(effect.key, data["kind"], data["subject"], data["body"], data["recipients"], at)
            elif effect.kind == "report":
                receipt = await workflow.execute_activity(
                    "write_report", fx.WriteReport(key=effect.key, case_id=state.case_id, kind=data["kind"],
                                                   reason=data["reason"], status=case.status(),
                                                   timeline=state.events[-LEGACY_REPORT_EVENTS:], at=at),
                    result_type=fx.ReportReceipt, **LEGACY_RECORD)
                state.bump("reports")
                case.record(workflow.now(), "report", data["kind"], report_id=receipt.report_id, title=receipt.title)
                roles = state.playbook.reporting.recipients
                await self.send_legacy(f"{effect.key}:sent", "report", receipt.title, receipt.summary,
                                       [{"role": r, "person": state.roles.get(r, r)} for r in roles], at)
            elif effect.kind == "stakeholder":
                ref = await workflow.execute_activity(
                    "store_stakeholder", fx.StoreStakeholder(key=effect.key, case_id=state.case_id,
                                                             **{k: v for k, v in data.items() if k != "at"}),
                    result_type=fx.StakeholderRef, **LEGACY_RECORD)
                case.record(workflow.now(), "stakeholder_stored", "stakeholder", stakeholder_id=ref.stakeholder_id)
            elif effect.kind == "survey":
                sent = await workflow.execute_activity(
                    "send_survey", fx.SendSurvey(key=effect.key, case_id=state.case_id, at=at),
                    result_type=fx.SurveySent, **LEGACY_RECORD)
                reporter = state.intake.reporter
                if reporter.contact:
                    await self.send_legacy(f"{effect.key}:sent", "survey", "How did we do?",
                                           f"Please rate timeliness, effectiveness and attitude (survey {sent.token}).",
                                           [{"role": "reporter", "person": f"{reporter.name or 'Customer'} <{reporter.contact}>"}], at)
                case.record(workflow.now(), "survey_sent", "survey")
            elif effect.kind == "record_survey":
                await workflow.execute_activity(
                    "record_survey", fx.RecordSurvey(key=effect.key, case_id=state.case_id, **data),
                    result_type=fx.Recorded, **LEGACY_RECORD)
            elif effect.kind == "knowledge":
                saved = await workflow.execute_activity(
                    "save_knowledge", fx.SaveKnowledge(key=effect.key, case_id=state.case_id,
                                                       category=state.category.value if state.category else None, **data),
                    result_type=fx.KnowledgeSaved, **LEGACY_RECORD)
                case.record(workflow.now(), "knowledge", data["title"], article_id=saved.article_id)
        except ActivityError as err:
            case.record(workflow.now(), "effect_failed", effect.kind, key=effect.key, error=str(err.cause or err))

    async def send_legacy(self, key: str, kind: str, subject: str, body: str, recipients: list[dict], at: datetime) -> None:
        try:
            receipt = await workflow.execute_activity(
                "notify", fx.Notification(key=key, case_id=self.case.state.case_id, kind=kind, subject=subject,
                                          body=body, recipients=[fx.Recipient(**r) for r in recipients], at=at),
                result_type=fx.NotificationReceipt, **LEGACY_DELIVER)
        except ActivityError as err:
            self.case.record(workflow.now(), "notification", kind, status="failed", error=str(err.cause or err),
                             roles=[r["role"] for r in recipients])
            self.case.state.bump("notifications_failed")
            return
        self.case.state.bump("notifications")
        self.case.record(workflow.now(), "notification", kind, status=receipt.status, channels=receipt.channels,
                         roles=[r["role"] for r in recipients], subject=subject)
