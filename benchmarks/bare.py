"""The bare case: the same timers, updates and notifications as a crisis case, and no logic at all.

What a case costs beyond this is what crisisdesk adds (its record keeping, search attributes, sheet,
effects); the benchmark reports the two side by side."""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bare_notify")
async def bare_notify(subject: str) -> str:
    return subject


@workflow.defn(name="BareCase")
class BareCase:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @workflow.run
    async def run(self, alert_after_s: float) -> int:
        for subject in ("acknowledgement", "alert", "risk warning"):  # as many as a crisis intake sends
            await workflow.execute_activity(bare_notify, subject, start_to_close_timeout=timedelta(seconds=30))
        # The alert's acknowledgement deadline: a timer raced against the first update.
        timed_out = not await _wait(lambda: bool(self.actions), alert_after_s)
        if timed_out:
            await workflow.execute_activity(bare_notify, "breach", start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: "customer_answer" in self.actions)
        return len(self.actions)

    @workflow.update
    def act(self, name: str) -> str:
        self.actions.append(name)
        return name


async def _wait(condition, seconds: float) -> bool:
    try:
        await workflow.wait_condition(condition, timeout=timedelta(seconds=seconds))
        return True
    except TimeoutError:
        return False
