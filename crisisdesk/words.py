"""A case's events in words: what happened, by whom, when (to the minute).

One function for every place a person reads events: the case sheet's "Last events" (workflows/sheet.py
has the same wording and can import it from here; pure, no I/O, safe in the workflow sandbox) and
`crisis timeline`. JSON stays for `--json`.
"""

from datetime import datetime

from crisisdesk.models.case import TimelineEvent

SHEET_TIME = "%m-%d %H:%M"
FULL_TIME = "%Y-%m-%d %H:%M UTC"


def stamp(at: datetime, year: bool = True) -> str:
    """`2026-11-25 08:48` (`11-25 08:48` without the year). Not strftime: it imports `time` on every
    call, and inside the workflow sandbox that import was a third of rendering the case sheet."""
    day = f"{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d}"
    return f"{at.year:04d}-{day}" if year else day


def what_happened(e: TimelineEvent, channel: bool = False) -> str:
    """The event as a sentence without its time; `channel` adds how an action came (cli, http, ui-update…)."""
    d = e.detail
    who = f" by {e.by}" if e.by else ""
    via = f" (via {d['via']})" if channel and d.get("via") else ""
    told = ", ".join(str(r) for r in d.get("notified", []) or [])
    if e.kind == "action":
        return f"{e.name}{who}{via}"
    if e.kind == "rejected":
        return f"{e.name} refused{who}{via}: {d.get('reason', '')}"
    if e.kind == "stage":
        return f"stage → {e.name}{who}"
    if e.kind == "path":
        return f"moved to the {e.name} path{who}"
    if e.kind == "deadline_set":
        return f"deadline {e.name} set, due {str(d.get('due_at', ''))[:16].replace('T', ' ')}"
    if e.kind == "deadline_met":
        return f"deadline {e.name} met" + (" late" if d.get("late_by_seconds") else "")
    if e.kind in ("breach", "reminder", "escalated"):
        return {"breach": f"deadline {e.name} BREACHED", "reminder": f"reminder: {e.name} still open",
                "escalated": f"{e.name} escalated"}[e.kind] + (f"; told {told}" if told else "")
    if e.kind in ("terminated", "reset"):  # the case audit's record of Temporal's Terminate or Reset
        asked = f" by {d['temporal_identity']}" if d.get("temporal_identity") else ""
        return f"{'terminated' if e.kind == 'terminated' else 'reset'} outside crisisdesk, in Temporal{asked}: {d.get('reason', '')}"
    if e.kind == "notification":
        roles = ", ".join(str(r) for r in d.get("roles", []) or []) or "the reporter"
        return f"{e.name} sent to {roles} ({d.get('status', '')})"
    if e.kind == "contingency_task":  # issue 26: a task of the contingency done (late: it was breached)
        return f"contingency task {d.get('task', '')} done{who}" + (" (late)" if d.get("breached") else "")
    if e.kind == "contingency" and e.name == "stood_down":
        return f"contingency stood down{who}: {d.get('reason', '')}"
    return f"{e.kind.replace('_', ' ')}: {e.name}{who}"


def in_words(e: TimelineEvent, time_format: str = SHEET_TIME, channel: bool = False) -> str:
    """`<time> <what happened>`; the default time format is the case sheet's."""
    when = stamp(e.at, year=False) if time_format == SHEET_TIME else e.at.strftime(time_format)
    return f"{when} {what_happened(e, channel)}"
