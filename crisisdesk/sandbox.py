"""The workflow sandbox the worker and the replayer share, minus a per-payload cost crisisdesk has no use for.

For every payload of every workflow task, the SDK (1.35) asks the workflow's sandbox which serialization
context and external-storage target the payload belongs to, so that context-aware converters can tell
an activity's payload from a child workflow's. Each question compiles and runs a snippet inside the
sandbox (about 0.7 ms); a crisis case asks about 50 of them between opening and its first breach, and
with 1,000 deadlines falling due in a minute they were the largest single item of the worker's CPU.

crisisdesk's data converter (pydantic, the optional encryption codec) is the same in every context and
it stores nothing externally (`crisisdesk.converter.data_converter`), so the answers are fixed: no
context, no storage target. Payloads are byte for byte what the SDK would write; the replay tests
replay histories recorded before this runner. A converter that uses the context, or external storage,
must not run under it.
"""

from temporalio.converter import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner


class ContextFreeRunner(WorkflowRunner):
    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner

    def activate(self, act):
        return self.inner.activate(act)

    def get_info(self):
        return self.inner.get_info()

    def get_thread_id(self):
        return self.inner.get_thread_id()

    def get_serialization_context(self, command_info) -> None:
        return None

    def get_external_store_context(self, command_info) -> StorageDriverStoreContext:
        return StorageDriverStoreContext(target=None)
