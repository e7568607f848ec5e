"""A replayer that reports the due times the workflow computes while it replays a history.

The case sends its status (deadlines and all) to `record_timeline`, a local activity: on replay the
workflow code computes that input again, from what the history gives it, and this interceptor keeps it.
The module is passed through the sandbox, so what it keeps is visible to the test.
"""

from datetime import datetime

from temporalio.worker import (
    Interceptor,
    Replayer,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from crisisdesk.converter import data_converter
from crisisdesk.sandbox import ContextFreeRunner
from crisisdesk.code import PASSED_THROUGH
from workflows.case import CrisisWorkflow

SEEN: list[dict[str, datetime]] = []  # per record_timeline call: deadline name -> due time


class _Outbound(WorkflowOutboundInterceptor):
    def start_local_activity(self, input: StartLocalActivityInput):
        if input.activity == "record_timeline":
            for arg in input.args:
                SEEN.append({d.name: d.due_at for d in arg.status.deadlines})
        return super().start_local_activity(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class DueTimeProbe(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _Inbound


def probing_replayer() -> Replayer:
    """The production sandbox, with this module passed through so the test sees what it kept."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH, __name__)
    return Replayer(workflows=[CrisisWorkflow], data_converter=data_converter(), interceptors=[DueTimeProbe()],
                    workflow_runner=ContextFreeRunner(SandboxedWorkflowRunner(restrictions=restrictions)))
