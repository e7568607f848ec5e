"""What the `crisis-privacy-purge` Schedule runs every day: one activity that erases the personal data
of cases past retention (`activities.retention`). A workflow only so that a Temporal Schedule can start
it, retry it while PostgreSQL is down, and show each run in the Web UI. Deterministic: no I/O here."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models.retention import PURGE_WORKFLOW, PurgeRequest, PurgeResult

# Within a worker's shutdown grace (docs/deploy.md): a purge cut short is idempotent and picks up where it
# stopped on the next try (purged cases are marked).
PURGE = dict(start_to_close_timeout=timedelta(minutes=10),
             retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)))


@workflow.defn(name=PURGE_WORKFLOW)
class PrivacyPurgeWorkflow:
    @workflow.run
    async def run(self, req: PurgeRequest) -> PurgeResult:
        workflow.set_current_details(f"erasing personal data of cases closed more than {req.older_than.days} days ago")
        return await workflow.execute_activity("purge_expired", req, result_type=PurgeResult,
                                               summary="erase personal data past retention", **PURGE)
