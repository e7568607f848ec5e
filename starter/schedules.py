"""The management schedules, created or updated when a worker starts (any number may start at once).

    crisis-report-weekly   CRISIS_REPORT_WEEKLY_CRON  (Mondays 07:00)   ServiceReportWorkflow weekly
    crisis-report-monthly  CRISIS_REPORT_MONTHLY_CRON (the 1st, 07:00)  ServiceReportWorkflow monthly
    crisis-quality-watch   every CRISIS_QUALITY_WATCH_EVERY (1 h)       QualityWatchWorkflow
    crisis-privacy-purge   CRISIS_RETENTION_CRON (daily, 03:00)         PrivacyPurgeWorkflow (CRISIS_RETENTION)
    crisis-case-audit      every CRISIS_CASE_AUDIT_EVERY (15 min)       CaseAuditWorkflow (terminated or reset cases)
    crisis-backup-daily    CRISIS_BACKUP_CRON (03:00), only with CRISIS_BACKUP_DIR   BackupWorkflow

The backup schedule exists only while CRISIS_BACKUP_DIR is set: a worker started without it deletes it.

They are ordinary Temporal Schedules: the Web UI's Schedules page lists them, and pausing one there
survives restarts, because an update keeps the schedule's state (paused, note) as it finds it.
"""

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from crisisdesk.logs import log
from crisisdesk.models.audit import AUDIT_WORKFLOW, SCHEDULE_AUDIT, AuditRequest
from crisisdesk.models.retention import PURGE_WORKFLOW, SCHEDULE_PURGE, PurgeRequest
from crisisdesk.models.backup import BACKUP_WORKFLOW, SCHEDULE_BACKUP, BackupRequest
from crisisdesk.models.service import (
    QUALITY_WORKFLOW,
    REPORT_WORKFLOW,
    SCHEDULE_MONTHLY,
    SCHEDULE_QUALITY,
    SCHEDULE_WEEKLY,
    ServiceReportRequest,
)
from crisisdesk.settings import Settings


def wanted_schedules(settings: Settings) -> dict[str, Schedule]:
    """Each schedule id with what it should be under these settings."""
    catch_up = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1))

    def report(period: str, cron: str, schedule_id: str) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(REPORT_WORKFLOW, ServiceReportRequest(period=period), id=schedule_id,
                                               task_queue=settings.task_queue,
                                               static_summary=f"{period} after-sales service report to management"),
            spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=settings.reports_zone),
            policy=catch_up,
            state=ScheduleState(note=f"{period} service report (crisisdesk); pause here to stop it"))

    wanted = {
        SCHEDULE_WEEKLY: report("weekly", settings.report_weekly_cron, SCHEDULE_WEEKLY),
        SCHEDULE_MONTHLY: report("monthly", settings.report_monthly_cron, SCHEDULE_MONTHLY),
        SCHEDULE_QUALITY: Schedule(
            action=ScheduleActionStartWorkflow(QUALITY_WORKFLOW, id=SCHEDULE_QUALITY, task_queue=settings.task_queue,
                                               static_summary="judge the quality targets; alert management on a crossing"),
            spec=ScheduleSpec(intervals=[_interval(settings.quality_watch_every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=settings.quality_watch_every),
            state=ScheduleState(note="quality watch (crisisdesk); pause here to stop the alerts")),
        SCHEDULE_PURGE: Schedule(
            action=ScheduleActionStartWorkflow(PURGE_WORKFLOW, PurgeRequest(older_than=settings.retention), id=SCHEDULE_PURGE,
                                               task_queue=settings.task_queue,
                                               static_summary="erase personal data of cases past retention"),
            spec=ScheduleSpec(cron_expressions=[settings.retention_cron], time_zone_name=settings.reports_zone),
            policy=catch_up,
            state=ScheduleState(note="retention (crisisdesk): CRISIS_RETENTION after closure; pause here to keep data")),
        SCHEDULE_AUDIT: Schedule(
            action=ScheduleActionStartWorkflow(AUDIT_WORKFLOW, AuditRequest(), id=SCHEDULE_AUDIT, task_queue=settings.task_queue,
                                               static_summary="notice cases terminated or reset outside crisisdesk; tell admins"),
            spec=ScheduleSpec(intervals=[_interval(settings.case_audit_every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=settings.case_audit_every),
            state=ScheduleState(note="case audit (crisisdesk): Terminate and Reset from the Web UI; pause here to stop it")),
    }
    if settings.backup_dir is not None:
        request = BackupRequest(directory=str(settings.backup_dir.expanduser().resolve()), keep=settings.backup_keep)
        wanted[SCHEDULE_BACKUP] = Schedule(
            action=ScheduleActionStartWorkflow(BACKUP_WORKFLOW, request, id=SCHEDULE_BACKUP, task_queue=settings.task_queue,
                                               static_summary=f"daily backup of the stack into {request.directory}"),
            spec=ScheduleSpec(cron_expressions=[settings.backup_cron], time_zone_name=settings.reports_zone),
            policy=catch_up,
            state=ScheduleState(note=f"daily backup (crisisdesk), keeps {request.keep}; unset CRISIS_BACKUP_DIR to remove"))
    return wanted


def _interval(every: timedelta):
    from temporalio.client import ScheduleIntervalSpec

    return ScheduleIntervalSpec(every=every)


async def ensure_schedules(client: Client, settings: Settings) -> dict[str, str]:
    """Create each schedule, or bring an existing one up to date keeping its paused state and note.

    Safe to call from every worker at once: a lost create race becomes an update, and updates that
    meet another update are tried again.
    """
    outcome: dict[str, str] = {}
    for schedule_id, schedule in wanted_schedules(settings).items():
        try:
            await client.create_schedule(schedule_id, schedule)
            outcome[schedule_id] = "created"
            continue
        except ScheduleAlreadyRunningError:
            pass

        def update(current: ScheduleUpdateInput, wanted: Schedule = schedule) -> ScheduleUpdate:
            state = current.description.schedule.state
            return ScheduleUpdate(schedule=Schedule(action=wanted.action, spec=wanted.spec, policy=wanted.policy,
                                                    state=ScheduleState(paused=state.paused, note=state.note)))

        handle = client.get_schedule_handle(schedule_id)
        for attempt in range(3):
            try:
                await handle.update(update)
                break
            except RPCError:
                if attempt == 2:
                    raise
        outcome[schedule_id] = "updated"
    if settings.backup_dir is None and await _delete_if_present(client, SCHEDULE_BACKUP):
        outcome[SCHEDULE_BACKUP] = "deleted"  # CRISIS_BACKUP_DIR was unset since it was created
    log.info("schedules ready", **{k.replace("-", "_"): v for k, v in outcome.items()})
    return outcome


async def _delete_if_present(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).delete()
        return True
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
