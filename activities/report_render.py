"""Situation reports as Markdown and HTML, with a hand-made SVG chart of stages and deadlines.

Pure functions of (kind, reason, status, timeline, at): no I/O, so they are easy to test and the
CLI can render a fresh report from the stored projection.
"""

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisisdesk.models.case import CaseStatus, Stage, TimelineEvent
from crisisdesk.words import what_happened

TITLES = {
    "daily": "Daily situation report",
    "weekly": "Weekly situation report",
    "change": "Situation report (change)",
    "media": "Media situation report",
    "final": "Final report",
}
# Daily and weekly reports list the events of their period; the others list every event.
WINDOWS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
STAGES = {s.value for s in Stage}


@dataclass
class Rendered:
    title: str
    summary: str
    markdown: str
    html: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(value: datetime | None) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def display_name(person: str | None) -> str:
    """A person as a report shows them: the name, never the address."""
    if not person:
        return "-"
    return re.sub(r"\s*<[^>]*>", "", person).strip() or "-"


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h {int(delta.total_seconds() % 3600 // 60)} min"


def _detail(event: TimelineEvent, limit: int = 120) -> str:
    text = json.dumps(event.detail, ensure_ascii=False, default=str) if event.detail else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stage_intervals(status: CaseStatus, timeline: list[TimelineEvent], end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(stage, entered, left) from the timeline's stage events, starting at `reported`."""
    changes: list[tuple[str, datetime]] = [("reported", _utc(status.received_at))]
    for event in timeline:
        if event.kind != "stage":
            continue
        stage = event.detail.get("to") if event.detail.get("to") in STAGES else event.name
        if stage in STAGES and stage != changes[-1][0]:
            changes.append((stage, _utc(event.at)))
    if changes[-1][0] != status.stage.value:
        changes.append((status.stage.value, _utc(status.updated_at)))
    return [(stage, start, max(start, changes[i + 1][1] if i + 1 < len(changes) else end))
            for i, (stage, start) in enumerate(changes)]


def svg_chart(status: CaseStatus, timeline: list[TimelineEvent], at: datetime) -> str:
    """Stages as bars on a time axis, deadlines as vertical lines (red when breached), events as ticks."""
    at = _utc(at)
    intervals = stage_intervals(status, timeline, at)
    times = [at, _utc(status.received_at), *(_utc(e.at) for e in timeline), *(_utc(d.due_at) for d in status.deadlines)]
    t0, t1 = min(times), max(times)
    span = max((t1 - t0).total_seconds(), 3600.0)
    lanes = list(dict.fromkeys(stage for stage, _, _ in intervals))
    left, width, lane_h, top = 130, 740, 22, 36
    height = top + lane_h * (len(lanes) + 1) + 40

    def x(t: datetime) -> float:
        return round(left + width * (_utc(t) - t0).total_seconds() / span, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
             f'viewBox="0 0 {left + width + 30} {height}" role="img" font-family="sans-serif" font-size="11">',
             f"<title>Stages and deadlines of {html.escape(status.case_id)}</title>"]
    for i, stage in enumerate(lanes):
        y = top + i * lane_h
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{html.escape(stage)}</text>')
        for name, start, end in intervals:
            if name == stage:
                parts.append(f'<rect x="{x(start)}" y="{y + 4}" width="{max(round(x(end) - x(start), 1), 2)}" '
                             f'height="{lane_h - 8}" fill="#4a7bb7"><title>{html.escape(name)}: '
                             f'{_when(start)} – {_when(end)}</title></rect>')
    events_y = top + len(lanes) * lane_h
    parts.append(f'<text x="{left - 6}" y="{events_y + 15}" text-anchor="end">events</text>')
    for event in timeline:
        parts.append(f'<line x1="{x(event.at)}" x2="{x(event.at)}" y1="{events_y + 4}" y2="{events_y + 18}" '
                     f'stroke="#555"><title>{html.escape(f"#{event.seq} {event.kind} {event.name}")}</title></line>')
    axis_y = events_y + lane_h + 4
    parts.append(f'<line x1="{left}" x2="{left + width}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for i in range(5):
        t = t0 + timedelta(seconds=span * i / 4)
        parts.append(f'<text x="{x(t)}" y="{axis_y + 14}" text-anchor="middle" fill="#555">'
                     f'{t.strftime("%m-%d %H:%M")}</text>')
    for i, deadline in enumerate(status.deadlines):
        colour = "#c62828" if deadline.breached else "#ef8c00"
        dx = x(deadline.due_at)
        # Labels alternate between two rows and sit on the inner side of their line, so they stay readable.
        anchor, tx = ("end", dx - 3) if dx > left + width / 2 else ("start", dx + 3)
        parts.append(f'<line x1="{dx}" x2="{dx}" y1="{top - 6}" y2="{axis_y}" stroke="{colour}" '
                     f'stroke-dasharray="4 3"/><text x="{tx}" y="{12 + 11 * (i % 2)}" text-anchor="{anchor}" '
                     f'fill="{colour}">{html.escape(deadline.name)}{" (breached)" if deadline.breached else ""}'
                     f'<title>{html.escape(deadline.name)} due {_when(deadline.due_at)}</title></text>')
    parts.append(f'<line x1="{x(at)}" x2="{x(at)}" y1="{top - 6}" y2="{axis_y}" stroke="#2e7d32"/>'
                 f'<text x="{x(at) - 3}" y="{axis_y - 4}" text-anchor="end" fill="#2e7d32">now</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def contingency_state(status: CaseStatus) -> str:
    run = status.contingency
    if run is None:
        return "no"
    return "active" if run.stood_down_at is None else f"stood down {_when(run.stood_down_at)}"


def contingency_words(status: CaseStatus) -> str:
    run = status.contingency
    if run is None:
        return ""
    return " with the contingency plan active" if run.stood_down_at is None else " after a contingency, stood down"


TASK_COLUMNS = ["task", "owner", "due", "done", "by", "state"]


def contingency_rows(status: CaseStatus) -> list[list[str]]:
    """The contingency's tasks with their owners and times (issue 26): who owned each, when it was due and done."""
    run = status.contingency
    if run is None:
        return []
    rows = []
    for t in run.tasks:
        owner = t.owner + (f" ({display_name(t.person)})" if t.person else "")
        state = ("done" if t.done_at else "closed by the stand-down" if t.closed_at else "open") + \
            (", late and escalated" if t.breached and t.done_at else ", breached" if t.breached else "")
        rows.append([t.name, owner, _when(t.due_at), _when(t.done_at) if t.done_at else "-",
                     display_name(t.done_by) if t.done_by else "-", state])
    return rows


def summarise(kind: str, reason: str, status: CaseStatus, timeline: list[TimelineEvent], at: datetime) -> str:
    open_deadlines = [d for d in status.deadlines if not d.breached]
    breached = [d for d in status.deadlines if d.breached]
    rejected = sum(1 for e in timeline if e.kind == "rejected")
    category = status.category.value if status.category else "not yet categorised"
    text = (f"Case {status.case_id} ({status.summary}): severity {status.severity.value}, category {category}, "
            f"on the {status.path.value} path"
            f"{contingency_words(status)}, at stage {status.stage.value} "
            f"as of {_when(at)}, {_duration(_utc(at) - _utc(status.received_at))} after it was reported. "
            f"{len(timeline)} events are recorded" + (f", {rejected} of them rejected actions" if rejected else "") + ". ")
    if open_deadlines:
        nxt = min(open_deadlines, key=lambda d: d.due_at)
        text += f"{len(open_deadlines)} deadline(s) open, the next being {nxt.name} at {_when(nxt.due_at)}. "
    if breached:
        text += f"Breached: {', '.join(d.name for d in breached)}. "
    return text + f"Reason for this {kind} report: {reason}."


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(kind: str, reason: str, status: CaseStatus, timeline: list[TimelineEvent], at: datetime) -> Rendered:
    title = f"{TITLES.get(kind, 'Situation report')}: {status.case_id} — {status.summary}"
    summary = summarise(kind, reason, status, timeline, at)
    public = kind == "media"  # a media report names no people
    shown = sorted(timeline, key=lambda e: e.seq)
    if kind in WINDOWS:
        shown = [e for e in shown if _utc(e.at) >= _utc(at) - WINDOWS[kind]]
    facts = [("Stage", status.stage.value), ("Path", status.path.value), ("Severity", status.severity.value),
             ("Category", status.category.value if status.category else "-"),
             ("Contingency", contingency_state(status)),
             ("Project", " / ".join(v for v in status.project.values() if v) or "-"),
             ("Playbook", f"{status.playbook} v{status.playbook_version}"),
             ("Received", _when(status.received_at)), ("Updated", _when(status.updated_at))]
    if not public:
        facts.append(("Next owner", display_name(status.next_owner)))
    roles = [] if public else sorted((role, display_name(p)) for role, p in status.roles.items())
    deadlines = [(d.name, _when(d.due_at), "breached" if d.breached else "open") for d in status.deadlines]
    if public:  # names nobody: kind and name only, as before
        columns = ["#", "at", "kind", "name", "detail"]
        rows = [[str(e.seq), _when(e.at), e.kind, e.name, _detail(e)] for e in shown]
    else:  # in words: what happened, by whom (never an address), when to the minute
        columns = ["#", "at", "what happened"]
        rows = [[str(e.seq), _when(e.at),
                 what_happened(e.model_copy(update={"by": display_name(e.by) if e.by else None}), channel=True)]
                for e in shown]
    hidden = len(timeline) - len(shown)
    period_note = f"{hidden} earlier event(s) are outside this report's period." if hidden else ""

    md = [f"# {title}", "", f"_Generated {_when(at)}. Reason: {reason}_", "", "## Summary", "", summary, "",
          "## Status", "", "| | |", "| --- | --- |", *(f"| {k} | {_cell(v)} |" for k, v in facts), ""]
    if roles:
        md += ["## Roles", "", "| role | person |", "| --- | --- |", *(f"| {r} | {_cell(p)} |" for r, p in roles), ""]
    if status.plan and not public:
        md += ["## Plan", "", f"{status.plan.summary} (department {status.plan.department}, decided by "
               f"{display_name(status.plan.decided_by)} at {_when(status.plan.decided_at)}, "
               f"{status.plan.revisions} revision(s))", ""]
    if deadlines:
        md += ["## Deadlines", "", "| deadline | due | state |", "| --- | --- | --- |",
               *(f"| {n} | {d} | {s} |" for n, d, s in deadlines), ""]
    tasks = [] if public else contingency_rows(status)
    if tasks:
        md += ["## Contingency tasks", "", "| " + " | ".join(TASK_COLUMNS) + " |", "|" + " --- |" * len(TASK_COLUMNS),
               *("| " + " | ".join(_cell(c) for c in row) + " |" for row in tasks), ""]
    md += ["## Timeline", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns),
           *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)]
    if period_note:
        md += ["", f"_{period_note}_"]

    def table(head: list[str], body: list[list[str]]) -> str:
        return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
                + "</tbody></table>")

    body = [f"<h1>{html.escape(title)}</h1>", f"<p><em>Generated {_when(at)}. Reason: {html.escape(reason)}</em></p>",
            f"<h2>Summary</h2><p>{html.escape(summary)}</p>", svg_chart(status, timeline, at),
            "<h2>Status</h2>" + table(["", ""], [[k, str(v)] for k, v in facts])]
    if roles:
        body.append("<h2>Roles</h2>" + table(["role", "person"], [list(r) for r in roles]))
    if status.plan and not public:
        body.append(f"<h2>Plan</h2><p>{html.escape(status.plan.summary)} (department "
                    f"{html.escape(status.plan.department)}, {status.plan.revisions} revision(s))</p>")
    if deadlines:
        body.append("<h2>Deadlines</h2>" + table(["deadline", "due", "state"], [list(d) for d in deadlines]))
    if tasks:
        body.append("<h2>Contingency tasks</h2>" + table(TASK_COLUMNS, tasks))
    body.append("<h2>Timeline</h2>" + table(columns, rows))
    if period_note:
        body.append(f"<p><em>{html.escape(period_note)}</em></p>")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}"
            "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:left;vertical-align:top}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    return Rendered(title=title, summary=summary, markdown="\n".join(md) + "\n", html=page)
