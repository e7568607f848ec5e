"""A case that is not ready is asked again by the edges (`starter.client.when_ready`, which queries go
through too): an update the server dropped with its workflow task is sent again, as one update.

The server aborts an update a workflow task carried when that task fails (since Temporal 1.27, with
a non-retryable WorkflowNotReady). Engine 6 never continues as new in such a task; cases on older
engines, and any task that fails for another reason, still drop one now and then: the API, the CLI
and the drills send it again under the same update id.
"""

import uuid

import pytest
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from crisisdesk.models.case import ActionResult, Stage
from starter.client import not_ready, send_update

pytestmark = pytest.mark.asyncio(loop_scope="session")


@workflow.defn(sandboxed=False)
class DropsUpdates:
    """Has the server refuse the workflow task of the first `drops` updates it sees, then answers. (A task
    the worker fails is tried again with its update; one the server refuses on completion, as it refuses
    a continue-as-new that missed events, takes the update down with it.)"""

    @workflow.init
    def __init__(self, drops: int) -> None:
        self.drops, self.taken = drops, 0

    @workflow.run
    async def run(self, drops: int) -> int:
        await workflow.wait_condition(lambda: self.taken >= 1)
        return self.taken

    @workflow.update
    async def note(self, payload: dict) -> ActionResult:
        # Counted outside the run: a refused task leaves no trace in history, where the next attempt starts.
        seen = DROPPED[workflow.info().workflow_id] = DROPPED.get(workflow.info().workflow_id, 0) + 1
        if seen <= self.drops:
            workflow.upsert_search_attributes([UNKNOWN.value_set("refused")])  # not registered: refused
        self.taken += 1
        return ActionResult(accepted=True, action="note", stage=Stage.reported, message=payload["text"])


DROPPED: dict[str, int] = {}
UNKNOWN = SearchAttributeKey.for_keyword("NoSuchAttributeRegistered")


async def start(client, task_queue: str, drops: int):
    return await client.start_workflow(DropsUpdates.run, drops, id=f"crisis-drops-{uuid.uuid4().hex[:8]}",
                                       task_queue=task_queue)


async def test_a_dropped_update_is_sent_again_and_taken_once(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[DropsUpdates], workflow_runner=UnsandboxedWorkflowRunner()):
        # The premise: the SDK's client gives up at once.
        plain = await start(client, task_queue, drops=1)
        with pytest.raises(RPCError) as dropped:
            await plain.execute_update(DropsUpdates.note, {"text": "hello"})
        assert not_ready(dropped.value), dropped.value

        handle = await start(client, task_queue, drops=2)
        result = await send_update(handle, "note", {"text": "hello"})
        assert result.accepted and result.message == "hello"
        assert DROPPED[handle.id] == 3  # two dropped, the third delivery taken
        assert await handle.result() == 1  # taken once
        updates = [e for e in (await handle.fetch_history()).events if e.HasField("workflow_execution_update_accepted_event_attributes")]
        assert len(updates) == 1


async def test_an_update_dropped_every_time_reaches_the_caller(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[DropsUpdates], workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await start(client, task_queue, drops=100)
        with pytest.raises(RPCError) as dropped:
            await send_update(handle, "note", {"text": "hello"})
        assert not_ready(dropped.value)
        assert DROPPED[handle.id] == 5  # the first delivery and four more, then the caller is told
        await handle.terminate("test over")

