"""The case sheet: the Markdown the Web UI shows as the case's "Current Details".

Rendered from the case file after every change; pure (the time comes from the workflow). It says
what a new operator needs without the docs: the case in a line, where it stands, whose turn it is
and what to paste into the Update dialog, the next deadline, breaches, plan, delegation, the last
events in words. Never personal data: no reporter or stakeholder names or contacts.
"""

from datetime import datetime, timedelta

from crisisdesk import i18n
from crisisdesk.lifecycle import ACTIONS, STAGES
from crisisdesk.guide import example
from crisisdesk.words import in_words
from workflows.authority import who_may
from workflows.casefile import CaseFile

LAST_EVENTS = 6


def render(case: CaseFile, now: datetime) -> str:
    """The sheet in the project's locale, times in its zone (issue 23: crisisdesk/i18n.py, `sheet.*`)."""
    s = case.state
    project = s.intake.project
    lc, tz = i18n.loc(project.locale), project.timezone

    def t(msg_id: str, **args) -> str:
        return i18n.text(lc, msg_id, tz=tz, **args)

    lines = [t("sheet.head", case_id=s.case_id, summary=s.intake.summary)
             + (t("sheet.project", project=project.id) if project.id else "")
             + (t("sheet.region", region=project.region) if project.region else ""), ""]
    level = s.playbook.severity[s.severity].response_level
    lines.append(t("sheet.stage", stage=s.stage.value, path=s.path.value, severity=s.severity.value, level=level)
                 + (t("sheet.contingency") if s.contingency else "")
                 + (t("sheet.reporters", count=len(s.reporters) + 1) if s.reporters else ""))
    if s.stage.is_final:
        lines.append(t("sheet.final", stage=s.stage.value))
    else:
        actions, role = case.next_steps(), STAGES[s.stage].turn
        owner = case.owner()
        shown_role = i18n.term("role", role, lc)
        turn = shown_role if owner == role else (f"{shown_role}（{owner}）" if lc == "zh-CN" else f"{shown_role} ({owner})")
        lines += ["", t("sheet.turn", turn=turn)]
        for name in actions:
            what = i18n.CATALOGUES[lc].get(f"action.{name}") or ACTIONS[name].what
            lines.append(f"- `{name}`: {what} · `{example(name, who_may(case, name))}`")
    open_deadlines = sorted(s.deadlines.values(), key=lambda d: d.due_at)
    if open_deadlines:
        lines += ["", t("sheet.deadlines")]
        for d in open_deadlines:
            state = t("sheet.breached", level=d.level + 1) if d.breached else i18n.left(d.due_at - now, lc)
            lines.append(t("sheet.deadline", deadline=d.name, due_at=d.due_at, state=state)
                         + in_working_time(s.playbook.calendar, d, lc, tz))
    if s.plan:
        lines += ["", t("sheet.plan", department=s.plan.department, revisions=s.plan.revisions,
                        rejections=s.plan.rejections, summary=s.plan.summary)]
        if s.plan.pending_revision:
            lines.append(t("sheet.pending", kind=i18n.term("revision", s.plan.pending_revision["kind"], lc),
                           summary=s.plan.pending_revision["summary"]))
    run = s.contingency_run
    if run is not None and run.active:
        lines += ["", t("sheet.tasks")]
        for task in run.tasks:
            if task.done_at is not None:
                state = t("sheet.task_done", done_at=task.done_at, by=task.done_by) + (t("sheet.task_late") if task.breached else "")
            else:
                state = t("sheet.task_breached" if task.breached else "sheet.task_due", due_at=task.due_at)
            holder = s.roles.get(task.owner)
            lines.append(t("sheet.task", name=task.name, owner=task.owner, state=state,
                           holder=t("sheet.region", region=holder) if holder else ""))
    if s.delegation:
        g = s.delegation
        lines += ["", t("sheet.delegation", to=g.to, scope=list(g.scope), until_at=g.until, outside=g.outside_scope)]
    unfilled = [r for r in s.playbook.alert_roles if r not in s.roles]
    if unfilled:
        lines += ["", t("sheet.unfilled", roles=unfilled)]
    if s.counts.get("record_rejected") or s.scrub_records:
        lines += ["", t("sheet.scrubbed")]
    if s.seq - s.recorded_seq > 20:
        lines += ["", t("sheet.backlog", count=s.seq - s.recorded_seq)]
    recent = s.events[-LAST_EVENTS:]
    if recent:
        lines += ["", t("sheet.last")] + [f"- {in_words(e, locale=lc, tz=tz)}" for e in reversed(recent)]
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
def in_working_time(calendar, deadline, locale: str = "en", tz: str | None = None) -> str:
    """` · local Mon 7 Dec, 13:00 Asia/Shanghai · 4 h of working time` (the local part only when the
    calendar's zone is not the sheet's, the second only for a deadline counted in working time)."""
    if calendar is None:
        return ""
    text = "" if calendar.timezone == tz else i18n.text(
        locale, "sheet.local", local=i18n.when(deadline.due_at, locale, calendar.timezone), zone=calendar.timezone)
    if deadline.working_time is None:
        return text
    words = working_words(deadline.working_time) if i18n.loc(locale) == "en" else i18n.duration(deadline.working_time, locale)
    return text + i18n.text(locale, "sheet.working", duration=words)


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
