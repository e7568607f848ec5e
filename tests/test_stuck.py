"""`find_stuck` against the real dev server.

The cases here are a stand-in registered as `CrisisWorkflow` on the test's own task queue: it sets
the search attributes and answers `status` the way a case does, and its activity always fails, so
each reason is produced on purpose and at once. Listing is narrowed to the test's task queue.
"""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from crisisdesk.models.case import CaseStatus, DeadlineStatus, Stage
from crisisdesk.models.intake import Path, Severity
from crisisdesk.names import SA_NEXT_DEADLINE, SA_STAGE, WORKFLOW_TYPE
from starter.stuck import find_stuck, overdue_query
from tests.helpers import eventually


@activity.defn(name="notify")
async def notify_always_fails(_: str) -> None:
    raise RuntimeError("smtp: connection refused")


@workflow.defn(name=WORKFLOW_TYPE)
class StandInCase:
    def __init__(self) -> None:
        self.started = workflow.now()

    @workflow.run
    async def run(self, mode: str) -> None:
        self.started = workflow.now()
        if mode == "overdue":
            workflow.upsert_search_attributes([
                SA_STAGE.value_set("contacting"),
                SA_NEXT_DEADLINE.value_set(self.started - timedelta(hours=1)),
            ])
        if mode == "failing":
            await workflow.execute_activity(
                notify_always_fails, "x", start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=20), backoff_coefficient=1.0),
            )
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def status(self) -> CaseStatus:
        due = self.started - timedelta(hours=1)
        return CaseStatus(
            case_id=workflow.info().workflow_id, intake_id="x", summary="stand-in", stage=Stage.contacting,
            path=Path.crisis, severity=Severity.important, category=None, contingency=False, roles={},
            delegation=None, deadlines=[DeadlineStatus(name="first_contact", due_at=due)],
            open_actions=["customer_contacted", "note"], plan=None, counts={}, updated_at=self.started,
            received_at=self.started, project={}, playbook="delivery", playbook_version=1,
        )


async def _start(client: Client, task_queue: str, mode: str) -> str:
    case_id = f"crisis-stuck-{mode}-{uuid.uuid4().hex[:6]}"
    await client.start_workflow(WORKFLOW_TYPE, mode, id=case_id, task_queue=task_queue)
    return case_id


@pytest.fixture
async def stand_in(client: Client, task_queue: str):
    async with Worker(client, task_queue=task_queue, workflows=[StandInCase], activities=[notify_always_fails],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        started: list[str] = []
        yield started
        for case_id in started:  # leave nothing running on the shared server
            await client.get_workflow_handle(case_id).terminate("test over")


async def test_nothing_stuck_on_an_empty_queue(client: Client, task_queue: str):
    assert await find_stuck(client, where=f"TaskQueue = '{task_queue}'") == []


async def test_overdue_case_names_the_deadline_and_the_step(client: Client, task_queue: str, stand_in: list[str]):
    case_id = await _start(client, task_queue, "overdue")
    stand_in.append(case_id)
    where = f"TaskQueue = '{task_queue}'"
    rows = await eventually(lambda: find_stuck(client, where=where), lambda rows: any(r.reason == "overdue" for r in rows))
    [row] = [r for r in rows if r.reason == "overdue"]
    assert row.case_id == case_id
    assert row.why.startswith("overdue first_contact")
    assert row.unstick == "record customer_contacted"
    # The same query an operator saves in the Web UI finds it too.
    found = [e.id async for e in client.list_workflows(overdue_query(datetime.now(timezone.utc), where))]
    assert found == [case_id]


async def test_idle_case_after_the_threshold_only(client: Client, task_queue: str, stand_in: list[str]):
    case_id = await _start(client, task_queue, "idle")
    stand_in.append(case_id)
    where = f"TaskQueue = '{task_queue}'"
    await eventually(lambda: find_stuck(client, where=where, idle_hours=0), lambda rows: any(r.reason == "idle" for r in rows))
    assert not [r for r in await find_stuck(client, where=where, idle_hours=24) if r.reason == "idle"]
    later = datetime.now(timezone.utc) + timedelta(hours=30)
    [row] = [r for r in await find_stuck(client, where=where, idle_hours=24, now=later) if r.reason == "idle"]
    assert row.case_id == case_id and row.why.startswith("no change for 30 h")
    assert "customer_contacted" in row.unstick


async def test_failing_activity_names_attempt_and_where_to_look(client: Client, task_queue: str, stand_in: list[str]):
    case_id = await _start(client, task_queue, "failing")
    stand_in.append(case_id)
    where = f"TaskQueue = '{task_queue}'"
    rows = await eventually(lambda: find_stuck(client, where=where, min_attempts=3),
                            lambda rows: any(r.reason == "failing" for r in rows))
    [row] = [r for r in rows if r.reason == "failing"]
    assert row.case_id == case_id and row.attempt >= 3
    assert row.why.startswith("activity notify failing (attempt ") and "smtp: connection refused" in row.why
    assert "SMTP_URL" in row.unstick


async def test_stuck_lists_a_case_whose_worker_is_gone(client: Client, task_queue: str):
    # No worker at all: the case is still found from its search attributes, without hanging.
    case_id = await _start(client, task_queue, "orphan")
    try:
        where = f"TaskQueue = '{task_queue}'"
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        rows = await asyncio.wait_for(
            eventually(lambda: find_stuck(client, where=where, idle_hours=1, now=later,
                                             query_timeout=timedelta(milliseconds=300)), bool), 20)
        assert [r.case_id for r in rows] == [case_id] and rows[0].reason == "idle"
        assert f"no worker polls its task queue '{task_queue}'" in rows[0].why  # the real cause, named
        assert f"CRISIS_TASK_QUEUE={task_queue}" in rows[0].unstick
    finally:
        await client.get_workflow_handle(case_id).terminate("test over")
