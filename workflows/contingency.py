"""The contingency as owned, timed work (002 §4.4.1.4, 4.5.1, 4.5.3, 4.6; issue 26).

When the contingency starts the case opens the playbook's contingency tasks (`Playbook.contingency_plan`):
each has an owner seat and a deadline named `contingency:<task>` in the case's deadlines, so the usual
machinery reminds, breaches and escalates it (`deadlines.escalation_for` reads the task's chain). A task
is done by its owner or the head (`contingency_task_done`), or by the existing action that records its
work (`done_by`: a media statement files the statement). The head stands the contingency down with a
reason: the open tasks close, and the stand-down is reported at once.

Pure functions of the case and the time the workflow gives them, like `deadlines` and `waits`.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from crisisdesk.i18n import said
from crisisdesk.models.case import ContingencyStatus, ContingencyTaskStatus
from crisisdesk.playbooks import CONTINGENCY

if TYPE_CHECKING:
    from workflows.casefile import CaseFile

TOLD = ["head", "regional_cs", "department:crisis_team"]


def deadline_of(task: str) -> str:
    return CONTINGENCY + task


def start(case: "CaseFile", now: datetime, by: str, why: str | dict) -> None:
    """Open the playbook's tasks, each against its deadline; tell the crisis team and every owner."""
    state = case.state
    state.contingency = True
    event = case.record(now, "contingency", "on", by=by, why=why)
    run = ContingencyStatus(started_at=now, why=why)
    state.contingency_run = run
    for task in state.playbook.contingency_plan:
        name = deadline_of(task.name)
        case.set_deadline(now, name, now + task.due)
        run.tasks.append(ContingencyTaskStatus(name=task.name, owner=task.owner, due_at=state.deadlines[name].due_at))
    tasks = [said("note.contingency.task", name=t.name, owner=t.owner, due_at=t.due_at.isoformat()) for t in run.tasks]
    owners = list(dict.fromkeys([*TOLD, *(t.owner for t in run.tasks)]))
    case.notify(event, "contingency", owners, why=why, count=len(run.tasks), tasks=tasks)


def task_done(case: "CaseFile", name: str, by: str, now: datetime, done_with: str) -> ContingencyTaskStatus:
    """Mark a task done (the caller checked who may): its deadline is met, late or not."""
    task = case.state.contingency_run.task(name)
    task.done_at, task.done_by, task.done_with = now, by, done_with
    case.meet(now, deadline_of(name))
    case.record(now, "contingency_task", "done", by=by, task=name, owner=task.owner, done_with=done_with,
                due_at=task.due_at.isoformat(), breached=task.breached or None)
    case.state.bump("contingency_tasks_done")
    return task


def work_recorded(case: "CaseFile", action: str, by: str, now: datetime) -> None:
    """An action that records a task's work (the playbook's `done_by`) completes its open task."""
    run = case.state.contingency_run
    if run is None or not run.active:
        return
    for task in run.open_tasks():
        rule = case.state.playbook.contingency_task(task.name)
        if rule is not None and action in rule.done_by:
            task_done(case, task.name, by, now, action)


def breached(case: "CaseFile", deadline: str) -> None:
    """The task's deadline passed undone: the task says so (escalation runs on its deadline)."""
    run = case.state.contingency_run
    task = run.task(deadline.removeprefix(CONTINGENCY)) if run is not None else None
    if task is not None:
        task.breached = True


def stand_down(case: "CaseFile", now: datetime, by: str, reason: str) -> list[str]:
    """The head stands it down: open tasks close undone, reports go back to their usual pace, and the
    stand-down is reported at once. Returns the tasks closed."""
    state, run = case.state, case.state.contingency_run
    state.contingency = False
    run.stood_down_at, run.stood_down_by, run.reason = now, by, reason
    closed = []
    for task in run.open_tasks():
        task.closed_at = now
        state.deadlines.pop(deadline_of(task.name), None)
        closed.append(task.name)
    event = case.record(now, "contingency", "stood_down", by=by, reason=reason, closed=closed)
    state.bump("contingency_stood_down")
    case.notify(event, "contingency_stood_down", list(dict.fromkeys([*TOLD, *(t.owner for t in run.tasks)])),
                by=by, reason=reason, closed=", ".join(closed) or said("refuse.none"))
    case.report(event, "change", said("report.contingency_stood_down"))
    state.next_report_at = None
    case.schedule_reports(now)
    return closed


def shown(case: "CaseFile") -> ContingencyStatus | None:
    """As `status.contingency` shows it: each task with the person holding its owner seat now."""
    run = case.state.contingency_run
    if run is None:
        return None
    roles = case.state.roles
    return run.model_copy(update={"tasks": [t.model_copy(update={"person": roles.get(t.owner)}) for t in run.tasks]})
