"""Stages that wait on the customer: they end, with or without an answer.

A customer who never answers must not hold a case open for ever (004 §四(六) puts the survey after
the resolution, not in front of closure). Each waiting stage has a period from the playbook
(`customer_waits`): halfway the customer and customer service are reminded; at the end the case
moves on, recording that the customer did not answer. While the case waits, the SLA clocks the
playbook lists in `customer_waits.pause_sla` stop (never the crisis timers: the playbook refuses that).

Pure functions of the case and the time the workflow gives them, like `deadlines`.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from crisisdesk.i18n import said
from crisisdesk.lifecycle import WAITING_STAGES
from crisisdesk.models.case import Stage
from workflows import deadlines
from workflows.state import CustomerWait

if TYPE_CHECKING:
    from workflows.casefile import CaseFile



def on_move(case: "CaseFile", now: datetime, before: Stage, after: Stage) -> None:
    """A stage change: stop waiting on the customer for the old stage, start for the new one."""
    if case.state.waiting is not None and case.state.waiting.stage == before:
        stop(case, now)
    if after in WAITING_STAGES and not after.is_final:
        start(case, now, after)


def start(case: "CaseFile", now: datetime, stage: Stage) -> None:
    state, waits = case.state, case.state.playbook.customer_waits
    period = getattr(waits, WAITING_STAGES[stage].waits_on)
    state.waiting = CustomerWait(stage=stage, since=now, remind_at=now + period / 2, until=now + period)
    for name in waits.pause_sla:
        deadline = state.deadlines.get(name)
        if deadline is not None and not deadline.breached and deadline.paused_at is None:
            deadline.paused_at, deadline.next_alert_at = now, None
            case.record(now, "deadline_paused", name, due_at=deadline.due_at.isoformat(),
                        why=f"waiting on the customer ({stage.value})")


def stop(case: "CaseFile", now: datetime) -> None:
    """The wait is over: paused SLA clocks resume, their due times moved by the time waited (the working
    time waited, for a deadline in business time: what was left of it when it stopped counts from now)."""
    state = case.state
    state.waiting = None
    for deadline in state.deadlines.values():
        if deadline.paused_at is not None:
            calendar = deadlines.calendar_for(state, deadline.name)
            deadline.due_at = deadlines.resumed(calendar, deadline.due_at, deadline.paused_at, now)
            deadline.paused_at, deadline.next_alert_at = None, deadline.due_at
            case.record(now, "deadline_resumed", deadline.name, due_at=deadline.due_at.isoformat())


def next_wakeup(case: "CaseFile") -> datetime | None:
    wait = case.state.waiting
    if wait is None:
        return None
    return wait.remind_at or wait.until


def tick(case: "CaseFile", now: datetime) -> None:
    """Remind halfway; at the end, move on without the customer."""
    wait = case.state.waiting
    if wait is None:
        return
    if wait.remind_at is not None and wait.remind_at <= now and wait.until > now:
        wait.remind_at = None
        event = case.record(now, "customer_reminder", wait.stage.value, until=wait.until.isoformat())
        case.notify(event, "customer_reminder", ["cs_owner"], reporter=bool(case.state.intake.reporter.contact),
                    what=wait.stage.value, until_at=wait.until.isoformat())
    if wait.until <= now:
        silent(case, now, wait)


def silent(case: "CaseFile", now: datetime, wait: CustomerWait) -> None:
    """The customer did not answer in time: record it, and move the case on."""
    state = case.state
    event = case.record(now, "customer_silent", wait.stage.value, since=wait.since.isoformat(),
                        waited_seconds=int((now - wait.since).total_seconds()))
    state.bump("customer_silent")
    if wait.stage == Stage.surveying:
        case.move(now, Stage.reviewing, "system", said("why.customer_silent_survey"))
    elif wait.stage == Stage.confirming:
        unconfirmed(case, now, event)
    elif wait.stage == Stage.awaiting_answer:
        case.move(now, Stage.revising, "system", said("why.customer_silent_answer"))
        case.start_timer(now, "revision")
        case.report(event, "change", said("report.customer_silent_answer"))


def unconfirmed(case: "CaseFile", now: datetime, silence) -> None:
    """Silence is not satisfaction (issue 24): the resolution is recorded as unconfirmed, its SLA clock stops
    unmet (metrics count it apart from confirmed resolutions), and customer service must call the customer
    back (`customer_callback`, escalated when missed); `customer_called_back` records what they said."""
    state = case.state
    case.meet(now, "response")
    case.move(now, Stage.reviewing, "system", said("why.customer_silent_confirm"))
    resolution = state.deadlines.get("resolution")
    if resolution is not None and resolution.paused_at is None:
        resolution.paused_at, resolution.next_alert_at = now, None
    state.bump("resolutions_unconfirmed")
    case.record(now, "resolution_unconfirmed", "resolution", since=silence.detail.get("since"),
                due_at=resolution.due_at.isoformat() if resolution is not None else None)
    case.start_timer(now, "customer_callback")
    case.notify(silence, "customer_callback", ["cs_owner", "regional_cs"])


def called_back(case: "CaseFile", now: datetime, satisfied: bool | None) -> None:
    """The call-back's answer: satisfied meets the resolution (confirmed by phone); not satisfied resumes its
    clock (the case goes back to work); no answer leaves it unconfirmed."""
    resolution = case.state.deadlines.get("resolution")
    if satisfied is None or resolution is None:
        return
    if satisfied:
        case.meet(now, "resolution")
        return
    calendar = deadlines.calendar_for(case.state, "resolution")
    if resolution.paused_at is not None:
        resolution.due_at = deadlines.resumed(calendar, resolution.due_at, resolution.paused_at, now)
        resolution.paused_at, resolution.next_alert_at = None, resolution.due_at
        case.record(now, "deadline_resumed", "resolution", due_at=resolution.due_at.isoformat())
