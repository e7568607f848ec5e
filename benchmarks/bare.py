"""The bare case: the same timers, updates and notifications as a crisis case, and no logic at all.

What a case costs beyond this is what crisisdesk adds (its record keeping, search attributes, sheet,
playbook, people); the benchmark reports the two side by side. It mirrors the bench's crisis case
step by step: the intake's three effects (alert, risk warning, change report) start at once and run
beside the case; each stage waits on its action with the stage's deadline as a timer (cancelled when
the action comes first, a breach notification when it does not); the accepted plan sends one more.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity, workflow

INTAKE_EFFECTS = ("alert", "risk warning", "change report")
EFFECT = dict(start_to_close_timeout=timedelta(seconds=30))
TABLE = """CREATE TABLE IF NOT EXISTS bench_bare (workflow_id text, subject text, at timestamptz,
                                                  due_at timestamptz, recorded_at timestamptz DEFAULT now());
           CREATE INDEX IF NOT EXISTS bench_bare_workflow ON bench_bare (workflow_id, subject)"""


@dataclass
class BareEffect:
    workflow_id: str
    subject: str
    at: datetime  # the workflow's time when it decided to send (a case's `at` on its record)
    due_at: datetime | None = None


class BareNotifier:
    """Keeps one row per effect in PostgreSQL, as a case keeps its notifications and breaches."""

    def __init__(self, pool) -> None:
        self.pool = pool

    @activity.defn(name="bare_notify")
    async def notify(self, effect: BareEffect) -> str:
        await self.pool.execute("INSERT INTO bench_bare (workflow_id, subject, at, due_at) VALUES ($1, $2, $3, $4)",
                                effect.workflow_id, effect.subject, effect.at, effect.due_at)
        return effect.subject


@workflow.defn(name="BareCase")
class BareCase:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @workflow.run
    async def run(self, deadlines_s: list[float]) -> int:
        """`deadlines_s[i]`: how long stage i waits for action i (the bench case's playbook deadlines)."""
        effects = [asyncio.create_task(self.notify(subject)) for subject in INTAKE_EFFECTS]
        for stage, seconds in enumerate(deadlines_s):
            # Due from the start for the first stage (as a case's alert is due from its intake), then from
            # the action before: the timer runs to the due time, however late its task started.
            due = (workflow.info().start_time if stage == 0 else workflow.now()) + timedelta(seconds=seconds)
            if not await _wait(lambda: len(self.actions) > stage, (due - workflow.now()).total_seconds()):
                effects.append(asyncio.create_task(self.notify(f"breach {stage}", due)))
                await workflow.wait_condition(lambda: len(self.actions) > stage)
        effects.append(asyncio.create_task(self.notify("execute plan")))
        await asyncio.gather(*effects)
        await workflow.wait_condition(lambda: False)  # open, like the case: it goes on to execution
        return len(self.actions)

    async def notify(self, subject: str, due_at: datetime | None = None) -> None:
        effect = BareEffect(workflow.info().workflow_id, subject, workflow.now(), due_at)
        await workflow.execute_activity("bare_notify", effect, **EFFECT)

    @workflow.update
    def act(self, name: str) -> str:
        self.actions.append(name)
        return name


async def _wait(condition, seconds: float) -> bool:
    if seconds <= 0:
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=timedelta(seconds=seconds))
        return True
    except TimeoutError:
        return False
