"""The plan's deadlines as data on the case: set, met, breached, reminded, escalated.

Pure functions of the state and the time the workflow gives them; the workflow turns the nearest
`next_alert_at` into its timer.

Business time: a deadline the playbook lists in `business_time` counts working time only, in the
calendar the case pinned (`Playbook.calendar`, with its holiday dates): its due time, its reminders and
escalations, its pauses and how late it was met. A whole day of such a target is a working day (the
calendar's working time of one day: `P2D` in 09:00-18:00 is 18 working hours), the rest working hours.
Every other deadline, the crisis timers always, runs on the clock.
"""

from datetime import date, datetime, timedelta

from pydantic import TypeAdapter

from crisisdesk.models.calendar import Calendar
from crisisdesk.models.case import DeadlineStatus
from crisisdesk.playbooks import SLA_TIMERS, Escalation, Playbook
from workflows.state import CaseState

_DURATION = TypeAdapter(timedelta)

# Once every level has been told `repeats` times, reminders slow to this pace until the action happens.
EXHAUSTED_REMINDER_EVERY = timedelta(days=1)
# A calendar with no working day this far ahead is a bug, not a wait (the playbook refuses one without any).
FOREVER_DAYS = 3660


# -- working time: pure arithmetic on a pinned calendar ------------------------------------------------
def working_amount(calendar: Calendar, target: timedelta) -> timedelta:
    """The working time a business-time target stands for: whole days are working days, the rest hours."""
    whole = timedelta(days=target.days)
    return target.days * calendar.day_length + (target - whole)


def _working_spans(calendar: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    return [(calendar.instant(day, start), calendar.instant(day, end)) for start, end in calendar.spans]


def add_working(calendar: Calendar, start: datetime, amount: timedelta) -> datetime:
    """The instant `amount` of working time after `start` (a start out of hours counts from the next span;
    a span used up to its end is due at that end, not at the next morning)."""
    if amount <= timedelta(0):
        return start
    workday, left = calendar.is_workday(), amount
    day = calendar.local(start).date()
    for _ in range(FOREVER_DAYS):
        if workday(day):
            for span_start, span_end in _working_spans(calendar, day):
                begin = max(span_start, start)
                if begin >= span_end:
                    continue
                if left <= span_end - begin:
                    return begin + left
                left -= span_end - begin
        day += timedelta(days=1)
    raise ValueError(f"calendar: no working time within {FOREVER_DAYS} days of {start.isoformat()}")


def working_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """The working time from `start` to `end` (zero when `end` is not after `start`)."""
    if end <= start:
        return timedelta(0)
    workday, total = calendar.is_workday(), timedelta(0)
    day, last = calendar.local(start).date(), calendar.local(end).date()
    while day <= last:
        if workday(day):
            for span_start, span_end in _working_spans(calendar, day):
                overlap = min(span_end, end) - max(span_start, start)
                if overlap > timedelta(0):
                    total += overlap
        day += timedelta(days=1)
    return total


# -- a deadline's own time: the calendar when it counts working time, else the clock -------------------
def calendar_for(state: CaseState, name: str) -> Calendar | None:
    return state.playbook.working_calendar(name)


def later(calendar: Calendar | None, start: datetime, target: timedelta) -> datetime:
    """When a target counted from `start` falls due, in its own time."""
    return start + target if calendar is None else add_working(calendar, start, working_amount(calendar, target))


def elapsed(calendar: Calendar | None, start: datetime, end: datetime) -> timedelta:
    """Time from `start` to `end` as the deadline counts it (working time in business time)."""
    return end - start if calendar is None else working_between(calendar, start, end)


def resumed(calendar: Calendar | None, due: datetime, paused_at: datetime, now: datetime) -> datetime:
    """A paused deadline's due time once the wait ends at `now`: what was left of it when it paused, from now."""
    if calendar is None:
        return due + (now - paused_at)
    return add_working(calendar, now, working_between(calendar, paused_at, due))


def iso_duration(value: timedelta) -> str:
    return _DURATION.dump_python(value, mode="json")


def pinned_from(playbook: Playbook) -> str | None:
    """The calendar a case opened with, in a line for its record: zone, holiday data and its years."""
    calendar = playbook.calendar
    if calendar is None or calendar.pinned is None:
        return None
    pinned = calendar.pinned
    return f"{calendar.timezone}; {pinned.source} {pinned.first_year}-{pinned.last_year}"


def shown(state: CaseState) -> list[DeadlineStatus]:
    """The open deadlines as the status shows them: soonest first, due times also in the calendar's zone."""
    ordered = sorted(state.deadlines.values(), key=lambda d: d.due_at)
    calendar = state.playbook.calendar
    if calendar is None:
        return ordered
    return [d.model_copy(update={"due_local": calendar.local(d.due_at)}) for d in ordered]


def target_of(state: CaseState, name: str) -> timedelta | None:
    """The target a deadline was set with, as the playbook writes it."""
    if name in SLA_TIMERS:
        return getattr(state.playbook.severity[state.severity], name)
    try:
        return state.playbook.deadline(name).due
    except KeyError:  # a milestone: its own due date
        return None


def escalation_for(state: CaseState, name: str) -> Escalation:
    book = state.playbook
    try:
        return book.deadline(name).escalation
    except KeyError:  # the SLA targets and the milestones
        return book.sla_escalation


def sla_targets(state: CaseState) -> dict[str, datetime]:
    """Acknowledgement, response and resolution due times, counted from when the customer reported (in
    working time for those in the playbook's `business_time`)."""
    targets = state.playbook.severity[state.severity]
    return {name: later(calendar_for(state, name), state.received_at, getattr(targets, name)) for name in SLA_TIMERS}


def set_deadline(state: CaseState, name: str, due_at: datetime) -> DeadlineStatus:
    working = target_of(state, name) if calendar_for(state, name) is not None else None
    deadline = DeadlineStatus(name=name, due_at=due_at, next_alert_at=due_at, working_time=working)
    state.deadlines[name] = deadline
    return deadline


def nearest_due(state: CaseState) -> datetime | None:
    return min((d.due_at for d in state.deadlines.values() if d.paused_at is None), default=None)


def next_alert(state: CaseState) -> datetime | None:
    return min((d.next_alert_at for d in state.deadlines.values() if d.next_alert_at), default=None)


def advance(deadline: DeadlineStatus, escalation: Escalation, now: datetime, calendar: Calendar | None = None) -> str:
    """Move a due deadline one step along its escalation chain; returns what happened.

    breach -> reminder x repeats -> escalated (next level) -> ... -> reminders at the top level,
    then one a day until the action happens. A business-time deadline reminds in working time: nobody
    is told again at night, at the weekend or on a holiday.
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
    deadline.next_alert_at = later(calendar, now, EXHAUSTED_REMINDER_EVERY if exhausted else escalation.repeat_every)
    return step


def recipients_at(escalation: Escalation, deadline: DeadlineStatus) -> list[str]:
    return escalation.levels[min(deadline.level, len(escalation.levels) - 1)]
