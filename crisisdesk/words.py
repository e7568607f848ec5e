"""A case's events in words: what happened, by whom, when (to the minute).

One function for every place a person reads events: the case sheet's "Last events" (workflows/sheet.py
has the same wording and can import it from here; pure, no I/O, safe in the workflow sandbox) and
`crisis timeline`. JSON stays for `--json`.
"""

from datetime import datetime

from crisisdesk import i18n
from crisisdesk.models.case import TimelineEvent

SHEET_TIME = "%m-%d %H:%M"
FULL_TIME = "%Y-%m-%d %H:%M UTC"


def stamp(at: datetime, year: bool = True) -> str:
    """`2026-11-25 08:48` (`11-25 08:48` without the year). Not strftime: it imports `time` on every
    call, and inside the workflow sandbox that import was a third of rendering the case sheet."""
    day = f"{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d}"
    return f"{at.year:04d}-{day}" if year else day


def what_happened(e: TimelineEvent, channel: bool = False, locale: str | None = None, tz: str | None = None) -> str:
    """The event as a sentence without its time, in `locale` (crisisdesk/i18n.py, `event.*`); `channel`
    adds how an action came (cli, http, ui-update…)."""
    lc = i18n.loc(locale)

    def t(msg_id: str, **args) -> str:
        return i18n.text(lc, msg_id, tz=tz, **args)

    d = e.detail
    who = t("event.by", by=e.by) if e.by else ""
    via = t("event.via", via=d["via"]) if channel and d.get("via") else ""
    notified = [str(r) for r in d.get("notified", []) or []]
    if e.kind == "action":
        return t("event.action", name=e.name, who=who, via=via)
    if e.kind == "rejected":
        reason = i18n.say(d["said"], lc, tz) if i18n.is_said(d.get("said")) else d.get("reason", "")
        return t("event.rejected", name=e.name, who=who, via=via, reason=reason)
    if e.kind == "stage":
        return t("event.stage", stage=e.name, who=who)
    if e.kind == "path":
        return t("event.path", path=e.name, who=who)
    if e.kind == "deadline_set":
        return t("event.deadline_set", deadline=e.name, due_at=d.get("due_at"))
    if e.kind == "deadline_met":
        return t("event.deadline_met_late" if d.get("late_by_seconds") else "event.deadline_met", deadline=e.name)
    if e.kind in ("breach", "reminder", "escalated"):
        return t(f"event.{e.kind}", deadline=e.name) + (t("event.told", roles=notified) if notified else "")
    if e.kind in ("terminated", "reset"):  # the case audit's record of Temporal's Terminate or Reset
        asked = t("event.by", by=d["temporal_identity"]) if d.get("temporal_identity") else ""
        return t(f"event.{e.kind}", asked=asked, reason=d.get("reason", ""))
    if e.kind == "notification":  # who it was for, and who it reached (issue 30: nobody forgotten)
        roles = [str(r) for r in d.get("roles", []) or []] or ["reporter"]
        people = [i18n.term("role", "reporter", lc) if p == "reporter" else str(p) for p in d.get("people", []) or []]
        reached = t("event.reached", people=people[:5]) if people else t("event.reached_nobody") if d.get("unresolved") else ""
        return t("event.notification", kind=e.name, roles=roles, reached=reached, status=d.get("status", ""))
    if e.kind == "contingency_task":  # issue 26: a task of the contingency done (late: it was breached)
        return t("event.contingency_task_late" if d.get("breached") else "event.contingency_task", task=d.get("task", ""), who=who)
    if e.kind == "contingency" and e.name == "stood_down":
        return t("event.stood_down", who=who, reason=d.get("reason", ""))
    if e.kind in ("report", "report_due"):
        return t("event.other", kind=e.kind, name=i18n.said(f"report.title.{e.name}") if f"report.title.{e.name}" in
                 i18n.CATALOGUES["en"] else e.name, who=who)
    return t("event.other", kind=e.kind, name=e.name, who=who)


def in_words(e: TimelineEvent, time_format: str = SHEET_TIME, channel: bool = False, locale: str | None = None,
             tz: str | None = None) -> str:
    """`<time> <what happened>`; the default time format is the case sheet's (local time, in `locale`)."""
    if time_format == SHEET_TIME:
        when = i18n.when(e.at, locale, tz)
    else:
        when = e.at.strftime(time_format)
    return f"{when} {what_happened(e, channel, locale, tz)}"
