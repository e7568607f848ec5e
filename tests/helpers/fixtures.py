"""Fixtures that build on the session servers: a worker per test, and a case driver."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from crisisdesk.models.case import ActionResult, CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.settings import Settings
from tests.helpers import eventually
from starter.worker import build_worker


@pytest_asyncio.fixture(loop_scope="session")
async def worker(temporal_env: WorkflowEnvironment, settings: Settings, pool, task_queue: str) -> AsyncIterator[Worker]:
    """A worker from the production factory, on this test's own task queue."""
    async with build_worker(temporal_env.client, settings, pool, task_queue=task_queue) as w:
        yield w


class Case:
    """Drives one case the way operators do (updates and signals by name) and lets time pass."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
        self.env, self.handle = env, handle

    @property
    def id(self) -> str:
        return self.handle.id

    async def act(self, action: str, **fields) -> ActionResult:
        return await self.handle.execute_update(action, fields, result_type=ActionResult)

    async def refused(self, action: str, **fields) -> str:
        """The reason an update is refused; fails the test if it was accepted."""
        try:
            result = await self.handle.execute_update(action, fields, result_type=ActionResult)
        except WorkflowUpdateFailedError as err:
            return str(err.cause.message if hasattr(err.cause, "message") else err.cause)
        raise AssertionError(f"{action} was accepted: {result}")

    async def refused_raw(self, action: str, args: list) -> str:
        """The reason an update sent with exactly these arguments (any number) is refused."""
        try:
            result = await self.handle.execute_update(action, args=args, result_type=ActionResult)
        except WorkflowUpdateFailedError as err:
            return str(err.cause.message if hasattr(err.cause, "message") else err.cause)
        raise AssertionError(f"{action} was accepted: {result}")

    async def signal(self, action: str, payload=None) -> None:
        await self.handle.signal(action, payload) if payload is not None else await self.handle.signal(action)

    async def status(self) -> CaseStatus:
        return await eventually(lambda: self._query("status", CaseStatus), lambda s: s is not None)

    async def _query(self, name, type_):
        try:
            return await self.handle.query(name, result_type=type_)
        except Exception:
            return None

    async def timeline(self) -> list[TimelineEvent]:
        """The events the case holds, asked as the API asks (again while a new run is not ready)."""
        from starter.client import timeline

        return await timeline(self.env.client, self.id)

    async def record(self, pool) -> list[TimelineEvent]:
        """The whole timeline as the API serves it: PostgreSQL's record plus what it has not caught up with."""
        from starter.client import timeline_page

        return await timeline_page(self.env.client, self.id, pool, limit=100_000)

    async def events(self, kind: str | None = None, name: str | None = None) -> list[TimelineEvent]:
        return [e for e in await self.timeline() if (kind is None or e.kind == kind) and (name is None or e.name == name)]

    async def wait_for(self, kind: str, name: str | None = None, count: int = 1) -> list[TimelineEvent]:
        """The matching events once at least `count` are on the timeline (effects run after the action)."""
        return await eventually(lambda: self.events(kind, name), lambda found: len(found) >= count)

    async def skip(self, **delta) -> None:
        await self.env.fast_forward(self.handle, timedelta(**delta))

    async def now(self) -> datetime:
        return await self.env.get_current_time(self.handle)


@pytest.fixture
def open_case(temporal_env: WorkflowEnvironment, worker: Worker, task_queue: str):
    """Start a case from an intake (dict fields override a sensible default)."""

    async def start(opens_at: datetime | None = None, **fields) -> Case:
        """`opens_at`: a later instant the customer reports at; the case starts then (a start delay, skipped)."""
        delay = None
        if opens_at is not None:
            delay, fields = opens_at - datetime.now(opens_at.tzinfo), {"received_at": opens_at.isoformat(), **fields}
        data = {
            "intake_id": f"it-{uuid.uuid4().hex[:10]}",
            "channel": "phone",
            "summary": "Water leaking through the ceiling after handover",
            "reporter": {"name": "Zhang San", "contact": "zhang.san@example.com", "role": "owner"},
            "project": {"id": "P-7", "name": "Riverside Phase 2", "region": "east"},
            "roles": {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS",
                      "department:engineering": "Zhao Eng", "department:marketing": "Sun Marketing"},
        } | fields
        intake = Intake.model_validate(data)
        handle = await temporal_env.client.start_workflow(
            "CrisisWorkflow", intake, id=case_id_for(intake.intake_id), task_queue=task_queue,
            result_type=CaseStatus, start_delay=delay,
        )
        if delay is not None:
            await temporal_env.fast_forward(handle, delay)
        case = Case(temporal_env, handle)
        await case.status()
        return case

    return start
