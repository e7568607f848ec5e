"""The activities through a real worker: registrable, and their models survive the data converter."""

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities import build_activities
from crisisdesk.models.effects import (
    CaseOpened,
    Notification,
    NotificationReceipt,
    OpenCase,
    Recorded,
    RecordTimeline,
)
from crisisdesk.models.intake import Intake
from tests.helpers.activity_samples import T0, make_events, make_status, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


@workflow.defn(sandboxed=False)
class ActivityProbe:
    """Calls activities by name, as the case workflow does."""

    @workflow.run
    async def run(self, case_id: str) -> list[str]:
        opts = dict(start_to_close_timeout=timedelta(seconds=20), retry_policy=RetryPolicy(maximum_attempts=1))
        intake = Intake(intake_id=case_id.removeprefix("crisis-"), summary="Lift stuck between floors")
        opened = await workflow.execute_activity(
            "open_case", OpenCase(case_id=case_id, intake=intake, playbook="service", opened_at=T0),
            result_type=CaseOpened, **opts)
        recorded = await workflow.execute_activity(
            "record_timeline",
            RecordTimeline(case_id=case_id, status=make_status(case_id), events=make_events("triage")),
            result_type=Recorded, **opts)
        receipt = await workflow.execute_activity(
            "notify",
            Notification(key=f"{case_id}:alert", case_id=case_id, kind="alert", subject="s", body="b",
                         recipients=[{"role": "head", "person": "Zhang San"}], at=T0),
            result_type=NotificationReceipt, **opts)
        return [type(opened).__name__, opened.playbook.name, str(recorded.inserted), receipt.status]


async def test_activities_run_in_a_worker_with_the_project_converter(client, task_queue, pool, settings):
    async with Worker(client, task_queue=task_queue, workflows=[ActivityProbe],
                      activities=build_activities(pool, settings), workflow_runner=UnsandboxedWorkflowRunner(),
                      workflow_failure_exception_types=[Exception]):
        result = await client.execute_workflow(ActivityProbe.run, new_case_id(), id=f"probe-{task_queue}",
                                               task_queue=task_queue, result_type=list[str],
                                               execution_timeout=timedelta(seconds=30))
    assert result == ["CaseOpened", "service", "1", "logged"]
