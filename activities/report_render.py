"""Situation reports as Markdown and HTML, with a hand-made SVG chart of stages and deadlines.

Pure functions of (kind, reason, status, timeline, at, locale, tz): no I/O after import, so they are
easy to test and the CLI can render a fresh report from the stored projection. The words come from
the catalogue (crisisdesk/locale, `report.*`) and the layout from jinja2 templates
(activities/templates/report.{md,html}.j2, the HTML autoescaped); times are local to the project.
"""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from activities.templating import TEMPLATES
from crisisdesk import i18n
from crisisdesk.models.case import CaseStatus, Stage, TimelineEvent
from crisisdesk.words import what_happened

TITLES = ("daily", "weekly", "change", "media", "final")
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


def _when(value: datetime | None, locale: str | None = None, tz: str | None = None) -> str:
    return i18n.when(_utc(value), locale, tz) if value else "-"


def display_name(person: str | None) -> str:
    """A person as a report shows them: the name, never the address."""
    if not person:
        return "-"
    return re.sub(r"\s*<[^>]*>", "", person).strip() or "-"


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


def svg_chart(status: CaseStatus, timeline: list[TimelineEvent], at: datetime, locale: str | None = None,
              tz: str | None = None) -> str:
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
             f"<title>{html.escape(i18n.text(locale, 'report.chart.title', case_id=status.case_id))}</title>"]
    for i, stage in enumerate(lanes):
        y = top + i * lane_h
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{html.escape(i18n.term("stage", stage, locale))}</text>')
        for name, start, end in intervals:
            if name == stage:
                parts.append(f'<rect x="{x(start)}" y="{y + 4}" width="{max(round(x(end) - x(start), 1), 2)}" '
                             f'height="{lane_h - 8}" fill="#4a7bb7"><title>{html.escape(i18n.term("stage", name, locale))}: '
                             f'{_when(start, locale, tz)} – {_when(end, locale, tz)}</title></rect>')
    events_y = top + len(lanes) * lane_h
    parts.append(f'<text x="{left - 6}" y="{events_y + 15}" text-anchor="end">{i18n.text(locale, "report.chart.events")}</text>')
    for event in timeline:
        parts.append(f'<line x1="{x(event.at)}" x2="{x(event.at)}" y1="{events_y + 4}" y2="{events_y + 18}" '
                     f'stroke="#555"><title>{html.escape(f"#{event.seq} {event.kind} {event.name}")}</title></line>')
    axis_y = events_y + lane_h + 4
    parts.append(f'<line x1="{left}" x2="{left + width}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for i in range(5):
        t = t0 + timedelta(seconds=span * i / 4)
        parts.append(f'<text x="{x(t)}" y="{axis_y + 14}" text-anchor="middle" fill="#555">'
                     f'{html.escape(_when(t, locale, tz))}</text>')
    for i, deadline in enumerate(status.deadlines):
        colour = "#c62828" if deadline.breached else "#ef8c00"
        dx = x(deadline.due_at)
        # Labels alternate between two rows and sit on the inner side of their line, so they stay readable.
        anchor, tx = ("end", dx - 3) if dx > left + width / 2 else ("start", dx + 3)
        parts.append(f'<line x1="{dx}" x2="{dx}" y1="{top - 6}" y2="{axis_y}" stroke="{colour}" '
                     f'stroke-dasharray="4 3"/><text x="{tx}" y="{12 + 11 * (i % 2)}" text-anchor="{anchor}" '
                     f'fill="{colour}">{html.escape(i18n.term("deadline", deadline.name, locale))}'
                     f'{html.escape(i18n.text(locale, "report.chart.breached")) if deadline.breached else ""}'
                     f'<title>{html.escape(deadline.name)}: {html.escape(_when(deadline.due_at, locale, tz))}</title></text>')
    parts.append(f'<line x1="{x(at)}" x2="{x(at)}" y1="{top - 6}" y2="{axis_y}" stroke="#2e7d32"/>'
                 f'<text x="{x(at) - 3}" y="{axis_y - 4}" text-anchor="end" fill="#2e7d32">{i18n.text(locale, "report.chart.now")}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def contingency_state(status: CaseStatus, t) -> str:
    run = status.contingency
    if run is None:
        return t("report.value.no")
    return t("report.value.active") if run.stood_down_at is None else t("report.value.stood_down", at=run.stood_down_at)


def contingency_words(status: CaseStatus, t) -> str:
    run = status.contingency
    if run is None:
        return ""
    return t("report.summary.contingency") if run.stood_down_at is None else t("report.summary.stood_down")


TASK_COLUMNS = ["task", "owner", "due", "done", "by", "state"]


def contingency_rows(status: CaseStatus, t, locale: str | None = None, tz: str | None = None) -> list[list[str]]:
    """The contingency's tasks with their owners and times (issue 26): who owned each, when it was due and done."""
    run = status.contingency
    if run is None:
        return []
    rows = []
    for task in run.tasks:
        owner = task.owner + (f" ({display_name(task.person)})" if task.person else "")
        state = t("report.task.done" if task.done_at else "report.task.closed" if task.closed_at else "report.task.open") + \
            (t("report.task.late") if task.breached and task.done_at else t("report.task.breached") if task.breached else "")
        rows.append([task.name, owner, _when(task.due_at, locale, tz), _when(task.done_at, locale, tz) if task.done_at else "-",
                     display_name(task.done_by) if task.done_by else "-", state])
    return rows


def summarise(kind: str, reason: str, status: CaseStatus, timeline: list[TimelineEvent], at: datetime,
              locale: str | None = None, tz: str | None = None) -> str:
    def t(msg_id: str, **args) -> str:
        return i18n.text(locale, msg_id, tz=tz, **args)

    open_deadlines = [d for d in status.deadlines if not d.breached]
    breached = [d for d in status.deadlines if d.breached]
    rejected = sum(1 for e in timeline if e.kind == "rejected")
    text = t("report.summary.head", case_id=status.case_id, summary=status.summary, severity=status.severity.value,
             category=status.category.value if status.category else i18n.said("report.value.uncategorised"),
             path=status.path.value, contingency=contingency_words(status, t),
             stage=status.stage.value, at=_utc(at), age=i18n.duration(_utc(at) - _utc(status.received_at), locale),
             events=len(timeline), rejected=t("report.summary.rejected", count=rejected) if rejected else "")
    if open_deadlines:
        nxt = min(open_deadlines, key=lambda d: d.due_at)
        text += t("report.summary.next", count=len(open_deadlines), deadline=nxt.name, due_at=nxt.due_at)
    if breached:
        text += t("report.summary.breached", deadlines=[d.name for d in breached])
    return text + t("report.summary.reason", kind=i18n.said(f"report.title.{kind if kind in TITLES else 'other'}"),
                    reason=reason)


def render(kind: str, reason: str, status: CaseStatus, timeline: list[TimelineEvent], at: datetime,
           locale: str | None = None, tz: str | None = None) -> Rendered:
    """The report in `locale` (the project's), times in `tz`: Markdown and an HTML page, from the templates."""
    lc = i18n.loc(locale)

    def t(msg_id: str, **args) -> str:
        return i18n.text(lc, msg_id, tz=tz, **args)

    title = t("report.title", kind=i18n.said(f"report.title.{kind if kind in TITLES else 'other'}"),
              case_id=status.case_id, summary=status.summary)
    summary = summarise(kind, reason, status, timeline, at, lc, tz)
    public = kind == "media"  # a media report names no people
    shown = sorted(timeline, key=lambda e: e.seq)
    if kind in WINDOWS:
        shown = [e for e in shown if _utc(e.at) >= _utc(at) - WINDOWS[kind]]
    facts = [(t("report.fact.stage"), i18n.term("stage", status.stage.value, lc)),
             (t("report.fact.path"), i18n.term("path", status.path.value, lc)),
             (t("report.fact.severity"), i18n.term("severity", status.severity.value, lc)),
             (t("report.fact.category"), i18n.term("category", status.category.value, lc) if status.category else "-"),
             (t("report.fact.contingency"), contingency_state(status, t)),
             (t("report.fact.project"), " / ".join(str(v) for k, v in status.project.items()
                                                   if v and k not in ("locale", "timezone")) or "-"),
             (t("report.fact.playbook"), f"{status.playbook} v{status.playbook_version}"),
             (t("report.fact.received"), _when(status.received_at, lc, tz)),
             (t("report.fact.updated"), _when(status.updated_at, lc, tz))]
    if not public:
        facts.append((t("report.fact.next_owner"), display_name(status.next_owner)))
    roles = [] if public else sorted((i18n.term("role", role, lc) if lc != "en" else role, display_name(p))
                                     for role, p in status.roles.items())
    deadlines = [(i18n.term("deadline", d.name, lc), _when(d.due_at, lc, tz),
                  t("report.state.breached") if d.breached else t("report.state.open")) for d in status.deadlines]
    # In words: what happened, by whom (never an address; a media report names nobody), when to the minute.
    columns = [t(f"report.col.{c}") for c in ("number", "at", "what")]
    rows = [[str(e.seq), _when(e.at, lc, tz),
             what_happened(e.model_copy(update={"by": None if public else display_name(e.by) if e.by else None}),
                           channel=not public, locale=lc, tz=tz)]
            for e in shown]
    hidden = len(timeline) - len(shown)
    plan = None
    if status.plan and not public:
        plan = t("report.plan", summary=status.plan.summary, department=status.plan.department,
                 by=display_name(status.plan.decided_by), decided_at=status.plan.decided_at, revisions=status.plan.revisions)
    tasks = [] if public else contingency_rows(status, t, lc, tz)
    page = {"title": title, "summary": summary, "reason": reason, "at": _when(at, lc, tz), "facts": facts,
            "roles": roles, "plan": plan, "deadlines": deadlines, "columns": columns, "rows": rows,
            "tasks": tasks, "task_columns": [t(f"report.col.{c}") for c in TASK_COLUMNS],
            "period_note": t("report.period_note", count=hidden) if hidden else "", "t": t,
            "lang": "zh-CN" if lc == "zh-CN" else "en"}
    markdown = TEMPLATES.get_template("report.md.j2").render(page)
    html_page = TEMPLATES.get_template("report.html.j2").render(page, chart=svg_chart(status, timeline, at, lc, tz))
    return Rendered(title=title, summary=summary, markdown=re.sub(r"\n{3,}", "\n\n", markdown), html=html_page)
