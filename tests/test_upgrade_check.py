"""`crisis upgrade-check` and the check `crisis dev` runs before its worker polls (issue 29, item 3).

A history recorded under a deliberately changed case workflow (a `CrisisWorkflow` defined here that
waits an hour before anything else) is flagged, by the function, by the command (exit 6 naming the
case) and by `crisis dev` (which will not start its worker without `--force`); the open cases of
today's code replay.
"""

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from crisisdesk.converter import data_converter
from crisisdesk.models.intake import Intake
from crisisdesk.names import SEARCH_ATTRIBUTES
from starter.cli import app
from starter.stack import temporal_binary
from starter.upgrade_check import check_open_cases
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess


@workflow.defn(name="CrisisWorkflow", sandboxed=False)
class ChangedCrisisWorkflow:
    """Not crisisdesk's code: the case workflow as a careless change might leave it."""

    @workflow.run
    async def run(self, intake: Intake) -> None:
        await workflow.sleep(timedelta(hours=1))


def runner_env(address: str, task_queue: str) -> dict[str, str | None]:
    """The session's server, no key, and no stack file (a developer's own .data/ must not answer)."""
    return {"TEMPORAL_ADDRESS": address, "CRISIS_TASK_QUEUE": task_queue, "CRISIS_ENCRYPTION_KEY": None,
            "CRISIS_STACK_FILE": "/nonexistent/stack.json", "CRISIS_DEBUG": None}


def crisis(env: dict[str, str | None], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


async def record_changed_case(client: Client, task_queue: str) -> str:
    """A running case whose history the changed workflow wrote: its first task started an hour's timer."""
    case_id = f"crisis-changed-{uuid.uuid4().hex[:8]}"
    intake = Intake(intake_id=case_id.removeprefix("crisis-"), channel="phone", summary="Lift stuck")
    async with Worker(client, task_queue=task_queue, workflows=[ChangedCrisisWorkflow]):
        handle = await client.start_workflow("CrisisWorkflow", intake, id=case_id, task_queue=task_queue)

        async def timer_started() -> bool:
            return any([e.event_type == EventType.EVENT_TYPE_TIMER_STARTED async for e in handle.fetch_history_events()])

        await eventually(timer_started, lambda started: started, timeout=15)
    return case_id


async def test_todays_open_cases_replay(open_case, client: Client, task_queue: str):
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by="Wang Head")
    await case.act("decide_plan", by="Wang Head", summary="Repair", department="engineering")
    where = f"TaskQueue = '{task_queue}'"
    report = await check_open_cases(client, data_converter(worker=True), where=where)
    assert (report.open, report.checked, report.failures) == (1, 1, [])

    env = runner_env(client.service_client.config.target_host, task_queue)
    done = await asyncio.to_thread(crisis, env, "upgrade-check", "--where", where, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["checked"] == 1 and json.loads(done.stdout)["failures"] == []


async def test_a_history_from_changed_code_is_flagged(open_case, client: Client, task_queue: str):
    fine = await open_case()
    changed = await record_changed_case(client, f"{task_queue}-changed")  # one worker per queue in a process
    try:
        where = f"TaskQueue IN ('{task_queue}', '{task_queue}-changed')"
        report = await check_open_cases(client, data_converter(worker=True), where=where)
        assert report.checked == 2 and [f.case_id for f in report.failures] == [changed], report
        assert "\n" not in report.failures[0].failure and "ondeterminism" in report.failures[0].failure, report.failures
        assert fine.id not in [f.case_id for f in report.failures]

        sampled = await check_open_cases(client, data_converter(worker=True), where=where, sample=1)
        assert (sampled.open, sampled.checked) == (2, 1)

        env = runner_env(client.service_client.config.target_host, task_queue)
        done = await asyncio.to_thread(crisis, env, "upgrade-check", "--where", where)
        assert done.exit_code == 6, done.output
        assert done.stdout.splitlines()[0].startswith(f"{changed}  ") and "1 would NOT replay" in done.stdout
    finally:
        await client.get_workflow_handle(changed).terminate("test over")


async def test_crisis_dev_will_not_start_its_worker_on_a_failure_unless_forced(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Temporal's file as an older, different crisisdesk would have left it: one open case of the changed code.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), dev_server_database_filename=str(data_dir / "temporal.db"),
        search_attributes=SEARCH_ATTRIBUTES, data_converter=data_converter(), dev_server_log_level="error")
    try:
        changed = await record_changed_case(env.client, "crisis")
    finally:
        await env.shutdown()

    refused = DevStackProcess(data_dir, env={"CRISIS_ENCRYPTION_KEY": None})
    code = await asyncio.to_thread(refused.proc.wait, 90)
    output = refused.output()
    assert code == 2, output[-3000:]
    line = next(line for line in output.splitlines() if "upgrade check:" in line)
    assert changed in line and "1 of 1 open case(s) would not replay" in line and "--force" in line, line
    print(line)
    assert "starting worker" not in output and not (data_dir / ".upgrade-checked").exists()

    forced = DevStackProcess(data_dir, env={"CRISIS_ENCRYPTION_KEY": None}, args=("--force",))
    try:
        await forced.wait_ready()
        assert "starting anyway (--force)" in forced.output() and changed in forced.output()
    finally:
        assert forced.stop() == 0, forced.output()[-3000:]
    assert not (data_dir / ".upgrade-checked").exists(), "a forced start must be checked again next time"
