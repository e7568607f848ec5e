"""What Temporal says of a case run it closed as Terminated: whether a Terminate or a Reset ended it, when,
why and at whose request (the Temporal client identity, not a verified person). Used by the case audit
(activities.case_audit) and `crisis stuck`.

Measured on Server 1.32: a Terminate records its reason and the caller's identity on the run's last event;
a Reset terminates the run it rewinds with the reset's reason and identity `history-resetter`, starts a new
run under the same case id, and says nowhere who asked for it.
"""

from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecution

from crisisdesk.models.audit import RESET, TERMINATED, ClosedOutside
from crisisdesk.names import WORKFLOW_TYPE

MAX_RUNS = 1000  # terminated runs looked at per call (visibility keeps them for the namespace's retention)
RESETTER = "history-resetter"  # the identity Temporal gives the termination a Reset makes


def terminated_query(where: str | None = None) -> str:
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Terminated'"
    return f"{query} AND ({where})" if where else query


async def terminated_runs(client: Client, where: str | None = None) -> list[WorkflowExecution]:
    """Case runs Temporal closed as Terminated, oldest first."""
    found = [e async for e in client.list_workflows(terminated_query(where), limit=MAX_RUNS)]
    return sorted(found, key=lambda e: (e.close_time or e.start_time, e.id))


async def how_it_ended(client: Client, execution: WorkflowExecution) -> ClosedOutside:
    """Terminated or reset, with the reason and identity the history gives: a Reset is a termination by
    `history-resetter`, or one whose case id has a newer run."""
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace, execution=ExecutionRef(workflow_id=execution.id, run_id=execution.run_id),
            maximum_page_size=1))
    reason = identity = None
    for event in response.history.events:
        if event.HasField("workflow_execution_terminated_event_attributes"):
            attributes = event.workflow_execution_terminated_event_attributes
            reason, identity = attributes.reason or None, attributes.identity or None
    latest = await client.get_workflow_handle(execution.id).describe()
    reset = identity == RESETTER or latest.run_id != execution.run_id
    return ClosedOutside(case_id=execution.id, run_id=execution.run_id, kind=RESET if reset else TERMINATED,
                         closed_at=execution.close_time or execution.start_time, reason=reason,
                         identity=None if identity == RESETTER else identity)
