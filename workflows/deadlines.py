"""The plan's deadlines as data on the case: set, met, breached, reminded, escalated.

Pure functions of the state and the time the workflow gives them; the workflow turns the nearest
`next_alert_at` into its timer.
"""

from datetime import datetime, timedelta

from crisisdesk.models.case import DeadlineStatus
from crisisdesk.playbooks import Escalation
from workflows.state import CaseState

# Once every level has been told `repeats` times, reminders slow to this pace until the action happens.
EXHAUSTED_REMINDER_EVERY = timedelta(days=1)


def escalation_for(state: CaseState, name: str) -> Escalation:
    book = state.playbook
    if name in book.deadlines:
        return book.deadlines[name].escalation
    return book.sla_escalation


def sla_targets(state: CaseState) -> dict[str, datetime]:
    """Acknowledgement, response and resolution due times, counted from when the customer reported."""
    targets = state.playbook.severity[state.severity]
    return {
        "acknowledgement": state.received_at + targets.acknowledgement,
        "response": state.received_at + targets.response,
        "resolution": state.received_at + targets.resolution,
    }


def set_deadline(state: CaseState, name: str, due_at: datetime) -> DeadlineStatus:
    deadline = DeadlineStatus(name=name, due_at=due_at, next_alert_at=due_at)
    state.deadlines[name] = deadline
    return deadline


def nearest_due(state: CaseState) -> datetime | None:
    return min((d.due_at for d in state.deadlines.values() if d.paused_at is None), default=None)


def next_alert(state: CaseState) -> datetime | None:
    return min((d.next_alert_at for d in state.deadlines.values() if d.next_alert_at), default=None)


def advance(deadline: DeadlineStatus, escalation: Escalation, now: datetime) -> str:
    """Move a due deadline one step along its escalation chain; returns what happened.

    breach -> reminder x repeats -> escalated (next level) -> ... -> reminders at the top level,
    then one a day until the action happens.
    """
    if not deadline.breached:
        deadline.breached = True
        step = "breach"
    elif deadline.reminders < escalation.repeats:
        deadline.reminders += 1
        step = "reminder"
    elif deadline.level + 1 < len(escalation.levels):
        deadline.level += 1
        deadline.reminders = 0
        step = "escalated"
    else:
        deadline.reminders += 1
        step = "reminder"
    exhausted = deadline.level + 1 == len(escalation.levels) and deadline.reminders >= escalation.repeats
    deadline.next_alert_at = now + (EXHAUSTED_REMINDER_EVERY if exhausted else escalation.repeat_every)
    return step


def recipients_at(escalation: Escalation, deadline: DeadlineStatus) -> list[str]:
    return escalation.levels[min(deadline.level, len(escalation.levels) - 1)]
