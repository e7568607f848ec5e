"""crisisdesk.sandbox.ContextFreeRunner answers "no serialization context" without entering the sandbox.
That is only right while crisisdesk's converter ignores the context: this checks the premise."""

import base64
import os

from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from crisisdesk.converter import data_converter
from crisisdesk.settings import Settings


def test_the_converter_is_the_same_in_every_context():
    key = base64.b64encode(os.urandom(32)).decode()
    contexts = [WorkflowSerializationContext(namespace="default", workflow_id="crisis-x"),
                ActivitySerializationContext(namespace="default", workflow_id="crisis-x", workflow_type="CrisisWorkflow",
                                             activity_type="notify", activity_task_queue="crisis", activity_id="1",
                                             is_local=False)]
    for converter in (data_converter(), data_converter(Settings(CRISIS_ENCRYPTION_KEY=key), worker=True)):
        assert converter.external_storage is None
        for context in contexts:
            assert converter.with_context(context) is converter, (
                "the data converter now depends on the serialization context: crisisdesk.sandbox.ContextFreeRunner "
                "would give it none; use the SDK's SandboxedWorkflowRunner directly")

