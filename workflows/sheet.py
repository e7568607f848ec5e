"""The case sheet: the Markdown the Web UI shows as the case's "Current Details".

Rendered from the case file after every change; pure (the time comes from the workflow). In the project's
language with times in its zone (issue 23: crisisdesk/i18n.py, `sheet.*` and `op.*` in the catalogues). It says
what a new operator needs without the docs: the case in a line, where it stands, whose turn it is
and what to paste into the Update dialog, the next deadline, breaches, plan, delegation, the last
events in words. Never personal data: no reporter or stakeholder names or contacts.
"""

import json
from datetime import datetime, timedelta

from crisisdesk import i18n
from crisisdesk.guide import example_in
from crisisdesk.lifecycle import ACTIONS, STAGES
from crisisdesk.operator_words import say
from crisisdesk.words import in_words
from workflows.authority import who_may
from workflows.casefile import CaseFile

LAST_EVENTS = 6


def when(at: datetime) -> str:
    """`12月3日（周四）14:00` / `Thu 3 Dec, 14:00`: in the sheet's language and zone (set by `render`)."""
    return i18n.when(at, i18n.READER.get(), i18n.READER_ZONE.get())


def left(delta: timedelta) -> str:
    """`3 h 20 min` / `3小时20分` (a span, never negative)."""
    return i18n.duration(abs(delta), i18n.READER.get())


def t(msg_id: str, **args) -> str:
    return i18n.text(i18n.READER.get(), msg_id, tz=i18n.READER_ZONE.get(), **args)


def render(case: CaseFile, now: datetime) -> str:
    """The sheet in the project's language, times in its zone."""
    project = case.state.intake.project
    language = i18n.READER.set(i18n.loc(project.locale))
    zone = i18n.READER_ZONE.set(project.timezone)
    try:
        return _render(case, now)
    finally:
        i18n.READER.reset(language)
        i18n.READER_ZONE.reset(zone)


def _render(case: CaseFile, now: datetime) -> str:
    s = case.state
    project = s.intake.project
    lc = i18n.READER.get()
    lines = [t("sheet.head", case_id=s.case_id, summary=s.intake.summary)
             + (t("sheet.project", project=project.id) if project.id else "")
             + (t("sheet.region", region=project.region) if project.region else ""), ""]
    level = s.playbook.severity[s.severity].response_level
    lines.append(t("sheet.stage", stage=s.stage.value, path=s.path.value, severity=s.severity.value, level=level)
                 + (t("sheet.contingency") if s.contingency else "")
                 + (t("sheet.reporters", count=len(s.reporters) + 1) if s.reporters else ""))
    if s.reopens:
        lines += ["", say("reopened.title", case=s.reopens["case_id"], stage=s.reopens.get("stage", ""),
                          playbook=f"{s.reopens.get('playbook') or '?'} v{s.reopens.get('playbook_version') or '?'}")]
        lines += [f"- {old_event(e)}" for e in s.reopens.get("events", [])[-LAST_EVENTS:]]
    if s.stage.is_final:
        lines += ["", *closing_summary(case)]
    else:
        lines += lead(case)
        actions, role = case.next_steps(), STAGES[s.stage].turn
        owner = case.owner()
        shown_role = i18n.term("role", role, lc)
        turn = shown_role if owner == role else (f"{shown_role}（{owner}）" if lc == "zh-CN" else f"{shown_role} ({owner})")
        lines += ["", t("sheet.turn", turn=turn)]
        for name in actions:
            lines.append(action_line(case, name))
        open_deadlines = sorted(s.deadlines.values(), key=lambda d: d.due_at)
        if open_deadlines:
            lines += ["", t("sheet.deadlines")]
            for d in open_deadlines:
                state = (say("due.breached", level=d.level + 1) if d.breached
                         else say("due.left", left=left(d.due_at - now)) if d.due_at >= now
                         else i18n.left(d.due_at - now, lc))
                lines.append(say("due.line", name=i18n.term("deadline", d.name, lc), due=when(d.due_at),
                                 local=local_due(s.playbook.calendar, d), state=state, as_of=clock(now)) + working_part(d))
    if s.plan:
        lines += ["", t("sheet.plan", department=s.plan.department, revisions=s.plan.revisions,
                        rejections=s.plan.rejections, summary=s.plan.summary)]
        if s.plan.pending_revision and not s.stage.is_final:
            lines.append(t("sheet.pending", kind=i18n.term("revision", s.plan.pending_revision["kind"], lc),
                           summary=s.plan.pending_revision["summary"]))
    run = s.contingency_run
    if run is not None and run.active and not s.stage.is_final:
        lines += ["", t("sheet.tasks")]
        for task in run.tasks:
            if task.done_at is not None:
                state = t("sheet.task_done", done_at=task.done_at, by=task.done_by) + (t("sheet.task_late") if task.breached else "")
            else:
                state = t("sheet.task_breached" if task.breached else "sheet.task_due", due_at=task.due_at)
            holder = s.roles.get(task.owner)
            lines.append(t("sheet.task", name=task.name, owner=task.owner, state=state,
                           holder=t("sheet.region", region=holder) if holder else ""))
    if s.delegation and not s.stage.is_final:
        g = s.delegation
        lines += ["", t("sheet.delegation", to=g.to, scope=list(g.scope), until_at=g.until, outside=g.outside_scope)]
    unfilled = [r for r in s.playbook.alert_roles if r not in s.roles]
    if unfilled and not s.stage.is_final:
        lines += ["", t("sheet.unfilled", roles=unfilled)]
    if s.counts.get("record_rejected") or s.scrub_records:
        lines += ["", t("sheet.scrubbed")]
    if s.seq - s.recorded_seq > 20:
        lines += ["", t("sheet.backlog", count=s.seq - s.recorded_seq)]
    recent = s.events[-LAST_EVENTS:]
    if recent:
        lines += ["", t("sheet.last")] + [f"- {in_words(e, locale=lc, tz=i18n.READER_ZONE.get())}" for e in reversed(recent)]
    return "\n".join(with_list_breaks(lines))


def clock(at: datetime) -> str:
    """`15:04`: the moment a relative figure was worked out, in the sheet's zone (the sheet is rendered when
    the case changes)."""
    local = at.astimezone(i18n.zone(i18n.READER_ZONE.get()))
    return f"{local.hour:02d}:{local.minute:02d}"


def local_due(calendar, deadline) -> str:
    """The calendar's own local time, when its zone is not the sheet's."""
    if calendar is None or calendar.timezone == i18n.READER_ZONE.get():
        return ""
    return say("due.local", at=i18n.when(deadline.due_at, i18n.READER.get(), calendar.timezone), zone=calendar.timezone)


def working_part(deadline) -> str:
    if deadline.working_time is None:
        return ""
    lc = i18n.loc(i18n.READER.get())
    words = working_words(deadline.working_time) if lc == "en" else i18n.duration(deadline.working_time, lc)
    return t("sheet.working", duration=words)


# -- suggestions that work as pasted (issue 30) ---------------------------------------------------------------
def action_line(case: CaseFile, name: str) -> str:
    """`- name: what it does`, then its input as the Web UI's editor leaves it (a code block), written in the
    name of a person who may take it now: a holder of its seats, or a directory candidate for its first seat.
    Nobody who could: says which seat to fill first."""
    by = suggested_by(case, name)
    head = f"- `{name}`: {i18n.CATALOGUES[i18n.loc(i18n.READER.get())].get(f'action.{name}') or ACTIONS[name].what}"
    if by is None:
        return f"{head} · {say('turn.seat_first', role=seat_role(case, name))}"
    return f"{head}\n\n{editor_block(suggestion(case, name, by))}"


def seat_role(case: CaseFile, name: str) -> str:
    seat = ACTIONS[name].who[0]
    return {"head_only": "head", "cs": "cs_owner", "alerted": "head", "on_case": "head", "department": "head",
            "experts": "technician", "plan_owner": "technician"}.get(seat, seat)


def suggested_by(case: CaseFile, name: str) -> str | None:
    """Who the case would take `name` from now: a holder of its seats; else, for a seat that is taken by doing
    its work (workflows.authority), the directory's first candidate for it."""
    holder = who_may(case, name)
    if holder is not None:
        return holder
    seat = ACTIONS[name].who[0]
    if seat in ("head", "head_only", "spokesperson", "alerted", "on_case", "experts", "plan_owner", "department"):
        return None
    role = seat_role(case, name)
    return next(iter(case.state.candidates.get(role, [])), None)


def suggestion(case: CaseFile, name: str, by: str) -> dict:
    """The row's example in the reader's words and `by`'s name, its other people replaced by people the case
    knows."""
    value = {**example_in(name, i18n.READER.get()), "by": by}
    s = case.state
    if "experts" in value:
        known = list(s.experts) or [p for p in s.candidates.get("technician", []) if p != by][:1] or [by]
        value["experts"] = known
    if isinstance(value.get("implementation"), dict):
        value["implementation"] = {**value["implementation"], "owner": by}
    if name == "decide_plan" and s.plan:
        value["department"] = s.plan.department
    return value


def editor_block(value: dict) -> str:
    """JSON as the Web UI's Data editor leaves it (indented by two spaces): pasted so, the editor changes
    nothing when the focus moves, and the first Submit sends it."""
    body = json.dumps(value, ensure_ascii=False, indent=2)
    return "```json\n" + body + "\n```"


def lead(case: CaseFile) -> list[str]:
    """Nobody forgotten: an alert that reached no one, or only the fallback, puts seating the head first."""
    s, last = case.state, case.state.last_alert
    roles = (last or {}).get("roles", [])
    if not last or not roles or any(r in s.roles for r in roles):
        return []  # no alert yet, or someone it was for is seated now
    unresolved = [r for r in last.get("unresolved", []) if r in roles]
    role = "head" if "head" in roles else roles[0]
    if not last.get("people"):
        lines = ["", say("lead.nobody_alerted", role=role, roles=roles)]
    elif unresolved:
        lines = ["", say("lead.fallback_only", role=role, roles=unresolved, people=last["people"][:3])]
    else:
        return []
    person = next(iter(s.candidates.get(role, [])), None)
    # Who seats them: the head or regional customer service, else someone the alert reached (an admin), else a
    # directory candidate for those seats (who may seat the first, workflows.steps.anytime.assign_role).
    seaters = [s.roles.get("head"), s.roles.get("regional_cs"), *s.alerted,
               *s.candidates.get("head", []), *s.candidates.get("regional_cs", [])]
    by = next((p for p in seaters if p and p != person), None)
    if person is None:
        return lines + [say("lead.no_candidate", role=role)]
    if by is None:
        return lines + [say("lead.no_assigner", role=role),
                        editor_block({"by": "", "role": role, "person": person})]
    return lines + [say("lead.paste", action="assign_role"), editor_block({"by": by, "role": role, "person": person})]


# -- a closed case: a summary, nothing open -------------------------------------------------------------------
def closing_summary(case: CaseFile) -> list[str]:
    s = case.state
    ended = next((e for e in reversed(s.events) if e.kind == "stage" and e.name == s.stage.value), None)
    action = {e.name: e for e in s.events if e.kind == "action"}
    lines = [say("closed.title", stage=s.stage.value)]
    if s.stage.value == "cancelled":
        cancel, link = action.get("cancel"), action.get("link")
        if link is not None:
            lines.append(say("closed.outcome.linked", case=link.detail.get("case_id", "?")))
        else:
            lines.append(say("closed.outcome.cancelled", by=t("event.by", by=cancel.by) if cancel and cancel.by else "",
                             reason=(cancel.detail.get("reason") if cancel else None) or (ended.detail.get("why") if ended else "")))
    else:
        lines.append(say("closed.outcome.closed", by=t("event.by", by=ended.by) if ended and ended.by else ""))
    if ended is not None:
        lines.append(say("closed.took", took=left(ended.at - s.received_at), received=when(s.received_at),
                         ended=when(ended.at)))
    lines.append(say("closed.breaches", count=s.counts.get("breaches", 0)))
    survey = action.get("survey_response")
    if survey is not None:
        parts = [f"{k} {survey.detail[k]}" for k in ("timeliness", "effectiveness", "attitude") if k in survey.detail]
        lines.append(say("closed.satisfaction", score=survey.detail.get("score", "?"),
                         parts=f" ({', '.join(parts)})" if parts else ""))
    else:
        lines.append(say("closed.no_survey"))
    review = action.get("review_done")
    if review is not None:
        lines.append(say("closed.review", cause=review.detail.get("cause", "?"), lessons=review.detail.get("lessons", "?")))
    else:
        lines.append(say("closed.no_review"))
    return lines + ["", say("closed.reopen", case=s.case_id)]


def old_event(e: dict) -> str:
    at = str(e.get("at", ""))[5:16].replace("T", " ")
    who = t("event.by", by=e["by"]) if e.get("by") else ""
    return f"{at} {str(e.get('kind', '')).replace('_', ' ')}: {e.get('name', '')}{who}"


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
    """` · local Tue 8 Dec, 13:00 Asia/Shanghai · 4 working hours` (the second part only for a deadline
    counted in working time); nothing without a calendar."""
    if calendar is None:
        return ""
    return local_due(calendar, deadline) + working_part(deadline)


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
