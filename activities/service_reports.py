"""Service reports to management: gathered, rendered, stored once per key, sent once per key.

The HTML (with its SVG charts) and the recipients stay out of workflow history: the report is kept
in `service_reports` and `send_service_report` reads it back by id.
"""

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify import Notifier
from activities.quality import management
from activities.service_report_data import gather
from activities.service_report_render import render_service_report
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, NotificationReceipt
from crisisdesk.models.service import SendServiceReport, ServiceReportWritten, WriteServiceReport
from crisisdesk.settings import Settings


class ServiceReports:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, notifier: Notifier) -> None:
        self.pool, self.settings, self.notifier = pool, settings, notifier

    @activity.defn(name="write_service_report")
    async def write_service_report(self, req: WriteServiceReport) -> ServiceReportWritten:
        existing = await self._written(req.key)
        if existing:
            return existing
        data = await gather(self.pool, req.period, req.since, req.until, req.at, req.quality)
        rendered = render_service_report(data, self.settings.locale, self.settings.reports_zone)
        async with self.pool.acquire() as conn:
            report_id = await conn.fetchval(
                """INSERT INTO service_reports (key, period, since, until, title, summary, markdown, html, charts,
                                                metrics, empty, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                   ON CONFLICT (key) DO NOTHING RETURNING report_id""",
                req.key, req.period, req.since, req.until, rendered.title, rendered.summary, rendered.markdown,
                rendered.html, rendered.charts, data.metrics.model_dump(mode="json"), data.metrics.empty, req.at)
        if report_id is None:  # a concurrent attempt stored it first
            return await self._written(req.key)
        log.info("service report written", key=req.key, report_id=report_id, period=req.period,
                 cases=data.metrics.cases_opened, charts=len(rendered.charts))
        return ServiceReportWritten(report_id=report_id, title=rendered.title, summary=rendered.summary,
                                    empty=data.metrics.empty, charts=rendered.charts)

    async def _written(self, key: str) -> ServiceReportWritten | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT report_id, title, summary, empty, charts FROM service_reports WHERE key = $1", key)
        return ServiceReportWritten(**dict(row)) if row else None

    @activity.defn(name="send_service_report")
    async def send_service_report(self, req: SendServiceReport) -> NotificationReceipt:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT key, title, markdown, html, at FROM service_reports WHERE report_id = $1",
                                      req.report_id)
        if row is None:
            raise ApplicationError(f"service report {req.report_id} does not exist", type="ReportMissing",
                                   non_retryable=True)
        return await self.notifier.notify(Notification(
            key=f"{req.key}:sent", case_id=row["key"], kind="service_report", subject=row["title"],
            body=row["markdown"], html=row["html"], recipients=management(self.settings), at=row["at"]))
