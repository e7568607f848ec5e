"""The case sheet: the Markdown the Web UI shows as the case's "Current Details".

Rendered from the case file after every change; pure (the time comes from the workflow). It says
what a new operator needs without the docs: the case in a line, where it stands, whose turn it is
and what to paste into the Update dialog, the next deadline, breaches, plan, delegation, the last
events in words. Never personal data: no reporter or stakeholder names or contacts.
"""

from datetime import datetime, timedelta

from crisisdesk.models.case import TimelineEvent
from crisisdesk.models.guide import GUIDE, example
from workflows.casefile import NEXT_STEPS, CaseFile

LAST_EVENTS = 6


def when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign, minutes = ("", minutes) if minutes >= 0 else ("overdue by ", -minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"]
    return sign + " ".join(parts)


def in_words(e: TimelineEvent) -> str:
    d = e.detail
    who = f" by {e.by}" if e.by else ""
    told = ", ".join(str(r) for r in d.get("notified", []) or [])
    if e.kind == "action":
        what = f"{e.name}{who}"
    elif e.kind == "rejected":
        what = f"{e.name} refused{who}: {d.get('reason', '')}"
    elif e.kind == "stage":
        what = f"stage → {e.name}{who}"
    elif e.kind == "path":
        what = f"moved to the {e.name} path{who}"
    elif e.kind == "deadline_set":
        what = f"deadline {e.name} set, due {str(d.get('due_at', ''))[:16].replace('T', ' ')}"
    elif e.kind == "deadline_met":
        what = f"deadline {e.name} met" + (" late" if d.get("late_by_seconds") else "")
    elif e.kind in ("breach", "reminder", "escalated"):
        what = {"breach": f"deadline {e.name} BREACHED", "reminder": f"reminder: {e.name} still open",
                "escalated": f"{e.name} escalated"}[e.kind] + (f"; told {told}" if told else "")
    elif e.kind == "notification":
        roles = ", ".join(str(r) for r in d.get("roles", []) or []) or "the reporter"
        what = f"{e.name} sent to {roles} ({d.get('status', '')})"
    else:
        what = f"{e.kind.replace('_', ' ')}: {e.name}{who}"
    return f"{e.at.strftime('%m-%d %H:%M')} {what}"


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
        actions, role = NEXT_STEPS[s.stage]
        owner = case.owner()
        turn = role if owner == role else f"{role} ({owner})"
        lines += ["", f"**Whose turn:** {turn}. What moves the case (Update dialog: name, then paste the input):"]
        for name in actions:
            lines.append(f"- `{name}`: {GUIDE[name].what} · `{example(name)}`")
    open_deadlines = sorted(s.deadlines.values(), key=lambda d: d.due_at)
    if open_deadlines:
        lines += ["", "**Deadlines**"]
        for d in open_deadlines:
            state = f"BREACHED, escalation level {d.level + 1}" if d.breached else left(d.due_at - now) + " left"
            lines.append(f"- {d.name}: due {when(d.due_at)} ({state})")
    if s.plan:
        lines += ["", f"**Plan** ({s.plan.department}, {s.plan.revisions} revisions, {s.plan.rejections} rejections): "
                      f"{s.plan.summary}"]
        if s.plan.pending_revision:
            lines.append(f"- pending {s.plan.pending_revision['kind']} revision: {s.plan.pending_revision['summary']}")
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
    return "\n".join(lines)
