"""What the daily backup schedule runs (`crisis-backup-daily`, only with CRISIS_BACKUP_DIR): one
activity that copies the embedded stack into a backup file and keeps the newest few. The activity
does the work (activities/backup.py); nothing here touches I/O or the clock."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models.backup import BACKUP_ACTIVITY, BACKUP_WORKFLOW, BackupReceipt, BackupRequest


@workflow.defn(name=BACKUP_WORKFLOW)
class BackupWorkflow:
    @workflow.run
    async def run(self, request: BackupRequest) -> BackupReceipt:
        return await workflow.execute_activity(
            BACKUP_ACTIVITY, request, result_type=BackupReceipt, summary=f"back up the stack into {request.directory}",
            start_to_close_timeout=timedelta(minutes=10),  # within a worker's shutdown grace (docs/deploy.md)
            # A full disk or a PostgreSQL restart: a few tries, then the failure is the run's result.
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=3,
                                     non_retryable_error_types=["NoStackToBackUp"]))
