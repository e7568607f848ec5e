"""What the management schedules run: the periodic service report and the quality watch.

    crisis-report-weekly / crisis-report-monthly  ->  ServiceReportWorkflow(period)
    crisis-quality-watch                          ->  QualityWatchWorkflow

A run reports on the period that ends at its *scheduled* time (Temporal's
`TemporalScheduledStartTime`), so a run that starts late, or is triggered again, still covers the
same period; its workflow id (the schedule id plus that time) keys the stored report and the
e-mail, so neither happens twice. Deterministic: no I/O and no clock here beyond the workflow's.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from crisisdesk.models.effects import NotificationReceipt
    from crisisdesk.models.service import (
        QUALITY_WORKFLOW,
        REPORT_WORKFLOW,
        Period,
        QualityChecked,
        SendServiceReport,
        ServiceReportRequest,
        ServiceReportResult,
        ServiceReportWritten,
        WatchQuality,
        WriteServiceReport,
    )

SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# Reading and writing PostgreSQL: retry until it is back.
STORE = dict(start_to_close_timeout=timedelta(minutes=5),
             retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                                      non_retryable_error_types=["QualityTargetsError", "ReportMissing"]))
# Sending: a few tries, then the failure is the run's result (the report stays stored).
DELIVER = dict(start_to_close_timeout=timedelta(seconds=60),
               retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5,
                                        non_retryable_error_types=["ReportMissing"]))


def month_before(at: datetime) -> datetime:
    """The same day and time a calendar month earlier (the 31st falls back to the month's last day)."""
    year, month = (at.year, at.month - 1) if at.month > 1 else (at.year - 1, 12)
    for day in (at.day, 30, 29, 28):
        try:
            return at.replace(year=year, month=month, day=min(at.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def report_window(period: Period, at: datetime, since: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) of the cases a report covers: the week or calendar month before `at`."""
    if period == "weekly":
        return at - timedelta(days=7), at
    if period == "monthly":
        return month_before(at), at
    return since or at - timedelta(days=7), at


def nominal_time() -> datetime:
    """The time a schedule meant this run for; when started by hand, when it started."""
    return workflow.info().typed_search_attributes.get(SCHEDULED_AT) or workflow.info().start_time


@workflow.defn(name=REPORT_WORKFLOW)
class ServiceReportWorkflow:
    @workflow.run
    async def run(self, req: ServiceReportRequest) -> ServiceReportResult:
        at = req.at or nominal_time()
        since, until = report_window(req.period, at, req.since)
        key = workflow.info().workflow_id
        workflow.set_current_details(f"{req.period} report on cases reported {since:%Y-%m-%d} – {until:%Y-%m-%d}")
        try:
            quality = await workflow.execute_activity("watch_quality", WatchQuality(at=at),
                                                      result_type=QualityChecked, summary="judge quality targets", **STORE)
        except ActivityError as err:  # a broken targets file must not stop the report
            workflow.logger.warning("quality targets not judged", extra={"error": str(err.cause or err)})
            quality = QualityChecked(results=[], crossings=0, alerted=0)
        written = await workflow.execute_activity(
            "write_service_report", WriteServiceReport(key=key, period=req.period, since=since, until=until, at=at,
                                                       quality=quality.results),
            result_type=ServiceReportWritten, summary="gather, render and store the report", **STORE)
        try:
            receipt = await workflow.execute_activity(
                "send_service_report", SendServiceReport(key=key, report_id=written.report_id),
                result_type=NotificationReceipt, summary="send it to management", **DELIVER)
            delivery = receipt.status
        except ActivityError as err:
            delivery = f"failed: {err.cause or err}"
        return ServiceReportResult(report_id=written.report_id, title=written.title, empty=written.empty,
                                   delivery=delivery, quality=quality)


@workflow.defn(name=QUALITY_WORKFLOW)
class QualityWatchWorkflow:
    @workflow.run
    async def run(self, req: WatchQuality | None = None) -> QualityChecked:
        at = req.at if req is not None else nominal_time()
        return await workflow.execute_activity("watch_quality", WatchQuality(at=at), result_type=QualityChecked,
                                               summary="judge quality targets", **STORE)
