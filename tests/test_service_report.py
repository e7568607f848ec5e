"""Periodic service reports and the quality watch, end to end: the schedules are created idempotently,
the weekly one fires in simulated time (the time-skipping dev server skips the schedule's own
scheduler workflow), its report arrives through a real SMTP server with its charts, and a warning
threshold crossed alerts management exactly once."""

import asyncio
import email
import email.policy
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from temporalio.client import Client

from activities.notify import Notifier
from activities.quality import QualityWatch
from activities.service_reports import ServiceReports
from crisisdesk.models.audit import SCHEDULE_AUDIT
from crisisdesk.models.retention import SCHEDULE_PURGE
from crisisdesk.models.service import (
    QUALITY_WORKFLOW,
    SCHEDULE_MONTHLY,
    SCHEDULE_QUALITY,
    SCHEDULE_WEEKLY,
    QualityChecked,
    ServiceReportResult,
    WatchQuality,
    WriteServiceReport,
)
from starter.schedules import ensure_schedules
from tests.helpers import eventually
from tests.helpers.stories import ordinary, settled

BOARD = "board@crisisdesk.test"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 Message accepted for delivery"

    def kind(self, kind: str) -> list[tuple[list[str], Message]]:
        return [(to, m) for to, m in self.messages if m["X-Crisis-Kind"] == kind]


@pytest.fixture
def smtp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}?from=desk@crisisdesk.test"
    controller.stop()


@pytest.fixture
def region() -> str:
    return f"report-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(settings, tmp_path, smtp, region):
    """Mail to the board; one target on this test's region: satisfaction at least 50 %, warn below 90 %."""
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"targets": [
        {"name": f"satisfaction-{region}", "metric": "satisfaction", "at_least": 0.5, "warning": 0.9,
         "min_cases": 1, "region": region}]}))
    return settings.model_copy(update={"smtp_url": SecretStr(smtp[1]), "management_recipients": [f"Board <{BOARD}>"],
                                       "quality_targets": targets})


def parts(message: Message) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in message.walk() if not p.is_multipart()}


async def test_weekly_schedule_fires_and_its_report_arrives_with_charts(open_case, pool, smtp, settings, region,
                                                                        client: Client, temporal_env, task_queue):
    inbox, _ = smtp
    project = {"id": "P-R", "name": "Riverside", "region": region}
    cases = await asyncio.gather(*(open_case(project=project) for _ in range(3)))
    await asyncio.gather(*(ordinary(c, score=s) for c, s in zip(cases, (5, 5, 2))))  # 2 of 3 satisfied: a warning
    await settled(cases, pool)

    first = await ensure_schedules(client, settings)
    assert set(first) == {SCHEDULE_WEEKLY, SCHEDULE_MONTHLY, SCHEDULE_QUALITY, SCHEDULE_PURGE, SCHEDULE_AUDIT}
    # Any number of workers may start at once: creating again is updating, never an error or a second schedule.
    again = await asyncio.gather(ensure_schedules(client, settings), ensure_schedules(client, settings))
    assert all(set(o.values()) == {"updated"} for o in again)
    weekly = client.get_schedule_handle(SCHEDULE_WEEKLY)
    try:
        await weekly.pause(note="paused in the Web UI")
        await ensure_schedules(client, settings)
        described = await weekly.describe()
        assert described.schedule.state.paused and described.schedule.state.note == "paused in the Web UI"
        await weekly.unpause()
        assert described.schedule.action.workflow == "ServiceReportWorkflow"
        assert described.schedule.action.task_queue == task_queue

        # The schedule's scheduler is a workflow on the dev server: skipping its clock a week fires it.
        scheduler = client.get_workflow_handle(f"temporal-sys-scheduler:{SCHEDULE_WEEKLY}")
        await temporal_env.fast_forward(scheduler, timedelta(days=7))
        fired = await eventually(weekly.describe, lambda d: d.info.recent_actions, timeout=30)
        action = fired.info.recent_actions[0]
        run = client.get_workflow_handle(action.action.workflow_id, result_type=ServiceReportResult)
        result = await run.result()
    finally:
        for schedule_id in (SCHEDULE_WEEKLY, SCHEDULE_MONTHLY, SCHEDULE_QUALITY, SCHEDULE_PURGE, SCHEDULE_AUDIT):
            await client.get_schedule_handle(schedule_id).delete()

    assert result.delivery == "sent" and not result.empty
    mine = next(r for r in result.quality.results if r.name == f"satisfaction-{region}")
    assert mine.level == "warning" and mine.crossed and mine.value == pytest.approx(2 / 3, abs=1e-6)

    row = await pool.fetchrow("SELECT * FROM service_reports WHERE report_id = $1", result.report_id)
    assert row["at"] == action.scheduled_at  # the period ends at the scheduled time, not when the run started
    assert row["until"] - row["since"] == timedelta(days=7) and row["metrics"]["cases_opened"] >= 3
    mails = await eventually(lambda: asyncio.sleep(0, inbox.kind("service_report")), lambda m: len(m) == 1)
    to, mail = mails[0]
    assert to == [BOARD] and mail["Subject"] == row["title"] and row["title"].startswith("Weekly service report")
    body = parts(mail)
    assert set(body) == {"text/plain", "text/html"}
    assert body["text/html"].count("<svg") == 4 == len(row["charts"])
    for chart in row["charts"]:  # SLA compliance and satisfaction over time, cases by category and severity
        assert f'data-chart="{chart}"' in body["text/html"]
    assert "## Slowest cases" in body["text/plain"] and "Worn door sensor" in body["text/plain"]

    # The warning raised one alert; judging again (the hourly watch) raises none.
    alerts = await eventually(lambda: asyncio.sleep(0, inbox.kind("quality_alert")), lambda m: len(m) >= 1)
    watch = await client.execute_workflow(QUALITY_WORKFLOW, WatchQuality(at=datetime.now(UTC)),
                                          id=f"watch-{uuid.uuid4().hex[:6]}", task_queue=task_queue,
                                          result_type=QualityChecked)
    again = next(r for r in watch.results if r.name == f"satisfaction-{region}")
    assert again.level == "warning" and not again.crossed
    await asyncio.sleep(0.2)
    alerts = [m for _, m in inbox.kind("quality_alert") if f"satisfaction-{region}" in m["Subject"]]
    assert len(alerts) == 1 and "early warning" in alerts[0]["Subject"]
    crossings = await pool.fetch("SELECT level, alerted_at FROM quality_crossings WHERE target = $1",
                                 f"satisfaction-{region}")
    assert [(c["level"], c["alerted_at"] is not None) for c in crossings] == [("warning", True)]


async def test_an_empty_period_gives_an_empty_report(pool, settings):
    reports = ServiceReports(pool, settings, Notifier(pool, settings, channels=[]))
    since, until = datetime(1990, 1, 1, tzinfo=UTC), datetime(1990, 1, 8, tzinfo=UTC)
    written = await reports.write_service_report(WriteServiceReport(
        key=f"empty-{uuid.uuid4().hex[:6]}", period="weekly", since=since, until=until, at=until))
    assert written.empty and written.title.endswith("(empty)") and "this report is empty" in written.summary
    html = await pool.fetchval("SELECT html FROM service_reports WHERE report_id = $1", written.report_id)
    assert "no survey answered (0 sent)" in html and "Traceback" not in html


async def test_a_target_on_an_unknown_metric_is_refused_naming_it(pool, settings, tmp_path):
    from temporalio.exceptions import ApplicationError

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"targets": [{"name": "x", "metric": "hapiness", "at_least": 0.9, "warning": 0.95}]}))
    watch = QualityWatch(pool, settings.model_copy(update={"quality_targets": bad}), Notifier(pool, settings, []))
    with pytest.raises(ApplicationError) as refused:
        await watch.watch_quality(WatchQuality(at=datetime.now(UTC)))
    assert refused.value.non_retryable and refused.value.type == "QualityTargetsError"
    assert "targets.0.metric" in refused.value.message and "unknown metric 'hapiness'" in refused.value.message
