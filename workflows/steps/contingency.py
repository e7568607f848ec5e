"""The contingency's tasks (002 §4.4.1.4, 4.5.1, 4.5.3, 4.6): done by their owner or the head; stood down
by the head with a reason. The rules of the tasks themselves are `workflows.contingency`."""

from datetime import datetime

from crisisdesk.models import actions as a
from crisisdesk.models.actions import refused
from workflows import contingency
from workflows.authority import authorize
from workflows.casefile import CaseFile
from workflows.steps.base import step


def running(case: CaseFile, action: str):
    run = case.state.contingency_run
    if run is None or not run.active:
        head = case.state.roles.get("head", "unassigned")
        raise refused("refuse.contingency_stood_down" if run is not None else "refuse.contingency_not_started",
                      action=action, head=head)
    return run


@step("contingency_task_done")
def contingency_task_done(case: CaseFile, x: a.ContingencyTaskDone, now: datetime) -> str:
    run = running(case, "contingency_task_done")
    task = run.task(x.name)
    if task is None:
        names = ", ".join(t.name for t in run.tasks) or "none"
        raise refused("refuse.unknown_task", name=x.name, tasks=names)
    if task.done_at is not None:
        raise refused("refuse.task_done_already", name=x.name, by=task.done_by, done_at=task.done_at.isoformat())
    case.task_owner = task.owner
    capacity = authorize(case, "contingency_task_done", x.by, now)
    task = contingency.task_done(case, x.name, x.by, now, "contingency_task_done")
    late = " (late)" if now > task.due_at else ""
    return f"contingency task {x.name} done{late} by the {capacity.replace('task_owner', 'owner')}"


@step("contingency_stand_down")
def contingency_stand_down(case: CaseFile, x: a.ContingencyStandDown, now: datetime) -> str:
    authorize(case, "contingency_stand_down", x.by, now)
    running(case, "contingency_stand_down")
    closed = contingency.stand_down(case, now, x.by, x.reason)
    return f"contingency stood down; open tasks closed: {', '.join(closed) or 'none'}"
