"""The case sheet: the Markdown the Web UI shows as the case's "Current Details".

Rendered from the case file after every change; pure (the time comes from the workflow). It says
what a new operator needs without the docs: the case in a line, where it stands, whose turn it is
and what to paste into the Update dialog, the next deadline, breaches, plan, delegation, the last
events in words. Never personal data: no reporter or stakeholder names or contacts.
"""

from datetime import datetime, timedelta

from crisisdesk.lifecycle import ACTIONS, STAGES
from crisisdesk.guide import example
from crisisdesk.words import in_words, stamp
from workflows.authority import who_may
from workflows.casefile import CaseFile

LAST_EVENTS = 6


def when(at: datetime) -> str:
    return f"{stamp(at)} UTC"


def left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign, minutes = ("", minutes) if minutes >= 0 else ("overdue by ", -minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"]
    return sign + " ".join(parts)


def render(case: CaseFile, now: datetime) -> str:
    s = case.state
    project = s.intake.project
    lines = [f"**{s.case_id}** · {s.intake.summary}" + (f" · project {project.id}" if project.id else "")
             + (f" ({project.region})" if project.region else ""), ""]
    level = s.playbook.severity[s.severity].response_level
    lines.append(f"**Stage** {s.stage.value} · **path** {s.path.value} · **severity** {s.severity.value} ({level})"
                 + (" · **contingency ON**" if s.contingency else "")
                 + (f" · **{len(s.reporters) + 1} reporters**" if s.reporters else ""))
    if s.stage.is_final:
        lines.append(f"The case is {s.stage.value}.")
    else:
        actions, role = case.next_steps(), STAGES[s.stage].turn
        owner = case.owner()
        turn = role if owner == role else f"{role} ({owner})"
        lines += ["", f"**Whose turn:** {turn}. What moves the case (Update dialog: name, then paste the input):"]
        for name in actions:
            lines.append(f"- `{name}`: {ACTIONS[name].what} · `{example(name, who_may(case, name))}`")
    open_deadlines = sorted(s.deadlines.values(), key=lambda d: d.due_at)
    if open_deadlines:
        lines += ["", "**Deadlines**"]
        for d in open_deadlines:
            state = f"BREACHED, escalation level {d.level + 1}" if d.breached else left(d.due_at - now) + " left"
            lines.append(f"- {d.name}: due {when(d.due_at)} ({state})" + in_working_time(s.playbook.calendar, d))
    if s.plan:
        lines += ["", f"**Plan** ({s.plan.department}, {s.plan.revisions} revisions, {s.plan.rejections} rejections): "
                      f"{s.plan.summary}"]
        if s.plan.pending_revision:
            lines.append(f"- pending {s.plan.pending_revision['kind']} revision: {s.plan.pending_revision['summary']}")
    run = s.contingency_run
    if run is not None and run.active:
        lines += ["", "**Contingency tasks** (contingency_task_done: the owner or the head; contingency_stand_down: "
                      "the head)"]
        for t in run.tasks:
            if t.done_at is not None:
                state = f"done {when(t.done_at)} by {t.done_by}" + (" (late)" if t.breached else "")
            else:
                state = ("BREACHED, " if t.breached else "") + f"due {when(t.due_at)}"
            holder = s.roles.get(t.owner)
            lines.append(f"- {t.name}: {t.owner}" + (f" ({holder})" if holder else "") + f" · {state}")
    if s.delegation:
        g = s.delegation
        lines += ["", f"**Delegation** to {g.to}: {', '.join(g.scope)} until {when(g.until)}; outside it: {g.outside_scope}"]
    unfilled = [r for r in s.playbook.alert_roles if r not in s.roles]
    if unfilled:
        lines += ["", f"**Nobody named for:** {', '.join(unfilled)} (assign_role; alerts go to the team or the fallback)"]
    if s.counts.get("record_rejected") or s.scrub_records:
        lines += ["", "**Record:** PostgreSQL refused some text; it is stored scrubbed"]
    if s.seq - s.recorded_seq > 20:
        lines += ["", f"**Record:** {s.seq - s.recorded_seq} events wait for PostgreSQL (deadlines run regardless)"]
    recent = s.events[-LAST_EVENTS:]
    if recent:
        lines += ["", "**Last events**"] + [f"- {in_words(e)}" for e in reversed(recent)]
    return "\n".join(with_list_breaks(lines))


def with_list_breaks(lines: list[str]) -> list[str]:
    """The Web UI's Markdown starts a list only after an empty line."""
    out: list[str] = []
    for line in lines:
        if line.startswith("- ") and out and out[-1] and not out[-1].startswith("- "):
            out.append("")
        out.append(line)
    return out


# -- business time (issue 25): the deadline's local due time and its target in working time, in one place --
def in_working_time(calendar, deadline) -> str:
    """` · local 2026-12-07 13:00 Asia/Shanghai · 4 working hours` (the second part only for a deadline
    counted in working time); nothing without a calendar."""
    if calendar is None:
        return ""
    text = f" · local {stamp(calendar.local(deadline.due_at))} {calendar.timezone}"
    return text if deadline.working_time is None else f"{text} · {working_words(deadline.working_time)}"


def working_words(target: timedelta) -> str:
    """`4 working hours`, `2 working days`, `1 working day 30 working minutes`: a business-time target."""
    whole = timedelta(days=target.days)
    rest = int((target - whole).total_seconds() // 60)
    parts = [f"{whole.days} working day{'s' * (whole.days != 1)}"] * bool(whole.days)
    if rest % 60:
        parts.append(f"{rest} working minutes")
    elif rest:
        parts.append(f"{rest // 60} working hour{'s' * (rest != 60)}")
    return " ".join(parts)
