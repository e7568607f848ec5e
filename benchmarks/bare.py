"""The bare case: the same timers, updates and notifications as a crisis case, and no logic at all.

What a case costs beyond this is what crisisdesk adds (its record keeping, search attributes, sheet,
playbook, people); the benchmark reports the two side by side. It mirrors the bench's crisis case
step by step: the intake's three effects (alert, risk warning, change report) start at once and run
beside the case; each stage waits on its action with the stage's deadline as a timer (cancelled when
the action comes first, a breach notification when it does not); the accepted plan sends one more.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

INTAKE_EFFECTS = ("alert", "risk warning", "change report")
EFFECT = dict(start_to_close_timeout=timedelta(seconds=30))


@activity.defn(name="bare_notify")
async def bare_notify(subject: str) -> str:
    return subject


@workflow.defn(name="BareCase")
class BareCase:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @workflow.run
    async def run(self, deadlines_s: list[float]) -> int:
        """`deadlines_s[i]`: how long stage i waits for action i (the bench case's playbook deadlines)."""
        effects = [asyncio.create_task(self.notify(subject)) for subject in INTAKE_EFFECTS]
        for stage, seconds in enumerate(deadlines_s):
            if not await _wait(lambda: len(self.actions) > stage, seconds):
                effects.append(asyncio.create_task(self.notify(f"breach {stage}")))
                await workflow.wait_condition(lambda: len(self.actions) > stage)
        effects.append(asyncio.create_task(self.notify("execute plan")))
        await asyncio.gather(*effects)
        await workflow.wait_condition(lambda: False)  # open, like the case: it goes on to execution
        return len(self.actions)

    async def notify(self, subject: str) -> None:
        await workflow.execute_activity(bare_notify, subject, **EFFECT)

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
