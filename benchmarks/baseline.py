"""The baseline workflow: updates that do nothing, so the server and SDK round trip is all it costs."""

from temporalio import workflow


@workflow.defn(name="BenchBaseline")
class BenchBaseline:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    def note(self, payload: dict) -> str:
        return "ok"

    @workflow.signal
    def finish(self) -> None:
        self.done = True
