"""Drills (应急演练): run a playbook against a scripted scenario in simulated time.

A drill never touches real cases: it brings up a private Temporal dev server with time skipping and
a throw-away PostgreSQL, plays the scenario's steps (actions and waits), and reports what the plan
would have done: every deadline met or breached, every escalation and refusal.
"""

import asyncio
import contextlib
import os
import tempfile
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from crisisdesk.models.calendar import WEEKDAYS
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.playbook import SLA_TIMERS
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.settings import Settings
from starter.client import send_update


class DrillStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    act: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    wait: timedelta | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> "DrillStep":
        if (self.act is None) == (self.wait is None):
            raise ValueError("a step either acts (act + payload) or waits (wait, e.g. PT13H)")
        return self


class DrillOpening(BaseModel):
    """When the drill's case opens: the next such local time after the drill starts (`fri 19:00`, or
    `10-01 10:00` for the next 1 October), so a drill can open on a Friday evening or a public holiday.
    The case is started with that delay, skipped at once in simulated time, and reported then."""

    model_config = ConfigDict(extra="forbid")
    next: str = Field(description='"fri 19:00" (a weekday) or "10-01 10:00" (a month and day), local time')
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _readable(self) -> "DrillOpening":
        self.after(datetime(2026, 1, 1, tzinfo=UTC))
        return self

    def after(self, now: datetime) -> datetime:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        day, _, clock = self.next.strip().lower().partition(" ")
        try:
            at = time.fromisoformat(clock)
        except ValueError:
            raise ValueError(f"next: {self.next!r}: the time is not HH:MM") from None
        local = now.astimezone(zone)
        if day in WEEKDAYS:  # this week's or next week's
            ahead = (WEEKDAYS.index(day) - local.weekday()) % 7
            candidates = [local.date() + timedelta(days=ahead), local.date() + timedelta(days=ahead + 7)]
        else:  # this year's or next year's
            try:
                month, dom = (int(x) for x in day.split("-"))
                candidates = [date(local.year, month, dom), date(local.year + 1, month, dom)]
            except ValueError:
                raise ValueError(f"next: {self.next!r}: name a weekday (fri) or a month and day (10-01)") from None
        opens = [datetime.combine(d, at, tzinfo=zone).astimezone(UTC) for d in candidates]
        return opens[0] if opens[0] > now + timedelta(minutes=1) else opens[1]


class Drill(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    intake: Intake
    opens: DrillOpening | None = Field(None, description="open the case at a chosen local time; unset: at once")
    steps: list[DrillStep] = Field(min_length=1)


class StepOutcome(BaseModel):
    step: int
    what: str
    accepted: bool
    message: str


class DrillResult(BaseModel):
    title: str
    status: CaseStatus
    outcomes: list[StepOutcome]
    timeline: list[TimelineEvent]

    @property
    def breaches(self) -> list[TimelineEvent]:
        return [e for e in self.timeline if e.kind == "breach"]

    @property
    def targets(self) -> list[TimelineEvent]:
        """The SLA targets as the case set them at opening (due time, local time, working time if counted so)."""
        return [e for e in self.timeline if e.kind == "deadline_set" and e.name in SLA_TIMERS][:len(SLA_TIMERS)]


async def play(drill: Drill, env: WorkflowEnvironment, task_queue: str, on_step=None, pool=None) -> DrillResult:
    """Play the scenario on a running time-skipping environment whose worker serves `task_queue`; with the
    worker's `pool`, the result has the whole timeline (the case itself holds only its recent events)."""
    intake = drill.intake.model_copy(update={"intake_id": f"drill-{uuid.uuid4().hex[:8]}-{drill.intake.intake_id}"})
    delay = None
    if drill.opens is not None:  # reported then: the case starts that much later, in simulated time
        now = datetime.now(UTC)
        opens = drill.opens.after(now)
        intake, delay = intake.model_copy(update={"received_at": opens}), opens - now
    handle = await env.client.start_workflow("CrisisWorkflow", intake, id=case_id_for(intake.intake_id),
                                             task_queue=task_queue, result_type=CaseStatus, start_delay=delay)
    if delay is not None:
        await env.fast_forward(handle, delay)
    outcomes = []
    for number, step in enumerate(drill.steps, 1):
        if step.wait is not None:
            await env.fast_forward(handle, step.wait)
            outcome = StepOutcome(step=number, what=f"wait {step.wait}", accepted=True, message="time passed")
        else:
            try:
                result = await send_update(handle, step.act, step.payload)
                outcome = StepOutcome(step=number, what=step.act, accepted=True, message=result.message)
            except WorkflowUpdateFailedError as err:
                outcome = StepOutcome(step=number, what=step.act, accepted=False,
                                      message=getattr(err.cause, "message", str(err.cause)))
        outcomes.append(outcome)
        if on_step:
            on_step(outcome, len(drill.steps))
    status = await handle.query("status", result_type=CaseStatus)
    if pool is not None:
        from starter.client import timeline_page

        await _recorded(handle, pool)
        timeline = await timeline_page(env.client, handle.id, pool, limit=100_000)
    else:
        timeline = await handle.query("timeline", result_type=list[TimelineEvent])
    if not status.stage.is_final:
        await handle.terminate("drill finished")
    return DrillResult(title=drill.title, status=status, outcomes=outcomes, timeline=timeline)


async def _recorded(handle, pool, tries: int = 100) -> None:
    """Until PostgreSQL's record has caught up with the case (the record runs beside the case)."""
    for _ in range(tries):
        status = await handle.query("status", result_type=CaseStatus)
        if not status.unrecorded:
            return
        await asyncio.sleep(0.05)


def scratch_dir() -> str | None:
    """Where a drill's throw-away PostgreSQL and files go: memory (`/dev/shm`) when the machine has it,
    so nothing is synced to disk and removing the cluster afterwards is quick (on disk that took 0.6 s
    of the 30-day drill's wall time here); else the usual temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class DrillStack:
    """A private stack for drills: time-skipping Temporal, a throw-away PostgreSQL and one worker,
    started once (about a second) for any number of scenarios; `play` runs one on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __aenter__(self) -> "DrillStack":
        from activities.db import create_pool, migrate
        from starter.stack import start_dev_server, start_postgres
        from starter.worker import build_worker

        async with contextlib.AsyncExitStack() as stack:  # on a failure part-way, what started is stopped
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crisis-drill-", dir=scratch_dir())))
            pg = start_postgres(root / "pg")
            stack.callback(pg.cleanup)
            self.env = await start_dev_server(time_skipping=True)
            stack.push_async_callback(self.env.shutdown)
            await migrate(pg.get_uri())
            pool = await create_pool(pg.get_uri())
            stack.push_async_callback(pool.close)
            self.pool = pool
            private = self.settings.model_copy(update={
                "task_queue": "drill", "report_dir": root / "reports", "evidence_dir": root / "evidence",
                "smtp_url": None, "webhook_url": None})
            await stack.enter_async_context(build_worker(self.env.client, private, pool, task_queue="drill"))
            self.stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stack.aclose()

    async def play(self, drill: Drill, on_step=None) -> DrillResult:
        return await play(drill, self.env, "drill", on_step, pool=self.pool)

