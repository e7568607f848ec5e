"""What the `crisis-case-audit` Schedule runs every 15 minutes: one activity that notices the cases Temporal
terminated or reset behind crisisdesk's back (`activities.case_audit`). A workflow only so that a Temporal
Schedule can start it, retry it while PostgreSQL is down, and show each run in the Web UI. Deterministic:
no I/O here."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models.audit import AUDIT_WORKFLOW, AuditRequest, AuditResult

AUDIT = dict(start_to_close_timeout=timedelta(minutes=10),
             retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)))


@workflow.defn(name=AUDIT_WORKFLOW)
class CaseAuditWorkflow:
    @workflow.run
    async def run(self, req: AuditRequest) -> AuditResult:
        workflow.set_current_details("looking for cases terminated or reset outside crisisdesk")
        return await workflow.execute_activity("audit_cases", req, result_type=AuditResult,
                                               summary="record terminated and reset cases, tell the admins", **AUDIT)
