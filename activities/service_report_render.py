"""The after-sales service report to management (004 §八(二)) as Markdown and HTML with SVG charts.

Pure: a function of the gathered data. An empty period says so in its title and first line.
"""

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

from activities.charts import svg_bars
from activities.service_report_data import ServiceReportData
from crisisdesk.models.metrics import CaseMetrics, DeadlineCompliance

TITLES = {"weekly": "Weekly service report", "monthly": "Monthly service report", "adhoc": "Service report"}


@dataclass
class RenderedReport:
    title: str
    summary: str
    markdown: str
    html: str
    charts: list[str] = field(default_factory=list)


def _day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def summarise(data: ServiceReportData) -> str:
    m = data.metrics
    if m.empty:
        return (f"No cases were reported between {_day(data.since)} and {_day(data.until)}: this report is empty. "
                f"Open risks and recurring causes below still stand.")
    sat = m.satisfaction.score
    terminated = f"{m.cases_terminated} terminated outside crisisdesk, " if m.cases_terminated else ""
    return (f"{m.cases_opened} case(s) reported between {_day(data.since)} and {_day(data.until)}: {m.cases_closed} "
            f"closed, {m.cases_cancelled} cancelled, {terminated}{m.cases_open} still open; "
            f"resolution rate {_pct(m.resolution_rate)} ({m.resolutions_confirmed} confirmed by the customer, "
            f"{m.resolutions_unconfirmed} never confirmed). "
            f"Deadlines met on time {_pct(m.sla_overall.compliance)} ({m.sla_overall.missed} missed). "
            f"Time to acknowledge median {_hours(m.time_to_acknowledge.median_seconds)}, to resolve median "
            f"{_hours(m.time_to_resolve.median_seconds)}. Satisfaction {_pct(sat.share_satisfied)} of "
            f"{m.satisfaction.responses} answered survey(s) of {m.satisfaction.surveys_sent} sent. "
            f"{m.crises} crisis case(s), {m.contingencies} contingency plan(s), {m.media_involved} with media involved.")


def _table(head: list[str], rows: list[list[object]]) -> tuple[list[str], str]:
    md = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
          *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)]
    page = ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            + "</tbody></table>")
    return md, page


def _group_rows(groups: list[CaseMetrics]) -> list[list[object]]:
    return [[g.group, g.cases_opened, g.cases_closed, _pct(g.resolution_rate), _pct(g.sla_overall.compliance),
             _pct(g.satisfaction.score.share_satisfied), _hours(g.time_to_resolve.median_seconds)] for g in groups]


GROUP_HEAD = ["group", "opened", "closed", "resolution rate", "deadlines on time", "satisfied", "resolve (median)"]


def _compliance_rows(sla: dict[str, DeadlineCompliance]) -> list[list[object]]:
    return [[name, c.met_on_time, c.missed, c.still_breached, _pct(c.compliance), _hours(c.late_by_median_seconds),
             _hours(c.late_by_max_seconds)] for name, c in sla.items()]


def render_service_report(data: ServiceReportData) -> RenderedReport:
    m = data.metrics
    title = f"{TITLES[data.period]}: {_day(data.since)} – {_day(data.until)}" + (" (empty)" if m.empty else "")
    summary = summarise(data)
    sections: list[tuple[str, list[str], str]] = []  # (heading, markdown lines, html)

    def add(heading: str, head: list[str], rows: list[list[object]], empty: str = "none") -> None:
        if rows:
            md, page = _table(head, rows)
        else:
            md, page = [f"_{empty}_"], f"<p><em>{html.escape(empty)}</em></p>"
        sections.append((heading, md, page))

    add("Quality targets", ["target", "metric", "value", "target", "warning at", "level"],
        [[q.name, q.metric, "no data" if q.value is None else round(q.value, 4),
          f"{'≥' if q.direction == 'at_least' else '≤'} {q.bound}", q.warning, q.level] for q in data.quality],
        "no quality targets configured")
    figures = [["cases reported", m.cases_opened], ["closed", m.cases_closed], ["cancelled", m.cases_cancelled],
               ["resolved (confirmed by the customer)", m.cases_resolved],
               ["resolved, never confirmed by the customer (called back)", m.resolutions_unconfirmed],
               ["resolution rate", _pct(m.resolution_rate)],
               ["time to acknowledge (median / p90)", f"{_hours(m.time_to_acknowledge.median_seconds)} / {_hours(m.time_to_acknowledge.p90_seconds)}"],
               ["time to first response (median / p90)", f"{_hours(m.time_to_first_response.median_seconds)} / {_hours(m.time_to_first_response.p90_seconds)}"],
               ["time to resolve (median / p90)", f"{_hours(m.time_to_resolve.median_seconds)} / {_hours(m.time_to_resolve.p90_seconds)}"],
               ["deadline breaches (cases)", f"{m.escalations.breaches} ({m.escalations.cases_breached})"],
               ["escalation levels reached", ", ".join(f"level {k}: {v}" for k, v in sorted(m.escalations.levels_reached.items())) or "none"],
               ["re-openings (resolution / plan turned down)", f"{m.reopenings.resolution_rejected} / {m.reopenings.plan_rejected}"],
               ["crises / contingencies / media", f"{m.crises} / {m.contingencies} / {m.media_involved}"],
               ["drills (kept apart)", m.drill_cases]]
    add("Figures", ["figure", "value"], figures)
    add("Deadlines (SLA compliance)", ["deadline", "on time", "missed", "still breached", "compliance", "late by (median)",
                                       "late by (max)"], _compliance_rows(m.sla_compliance), "no deadline fell due")
    sat = m.satisfaction
    add("Satisfaction", ["dimension", "answers", "satisfied (4–5)", "1", "2", "3", "4", "5"],
        [[d, getattr(sat, d).answers, _pct(getattr(sat, d).share_satisfied), *getattr(sat, d).distribution.values()]
         for d in ("score", "timeliness", "effectiveness", "attitude")] if sat.responses else [],
        f"no survey answered ({sat.surveys_sent} sent)")
    add(f"Over time (by {data.trend_by})", GROUP_HEAD, _group_rows(data.trend), "no cases in the trend window")
    add("By category", GROUP_HEAD, _group_rows(data.by_category), "no cases")
    add("By severity", GROUP_HEAD, _group_rows(data.by_severity), "no cases")
    add("By playbook version", GROUP_HEAD, _group_rows(data.by_playbook), "no cases")
    add("Slowest cases", ["case", "summary", "severity", "category", "stage", "hours", "resolved"],
        [[s.case_id, s.summary, s.severity, s.category, s.stage, round(s.hours, 1), "yes" if s.resolved else "no"]
         for s in data.slowest], "no cases")
    add("Recurring causes (reviews and the knowledge base)", ["cause", "this period", "all time", "categories", "articles"],
        [[c.cause, c.in_period, c.all_time, ", ".join(c.categories), "; ".join(c.titles)] for c in data.causes],
        "no reviews in this period")
    add("Open risks", ["case", "summary", "stage", "severity", "path", "contingency", "breached", "next deadline"],
        [[r.case_id, r.summary, r.stage, r.severity, r.path, "yes" if r.contingency else "no",
          "yes" if r.breached else "no", r.next_deadline.isoformat() if r.next_deadline else "–"] for r in data.risks],
        "no open crisis, contingency or breached case")
    actions = [[i.case_id, i.title, i.lessons] for i in data.improvements]
    actions += [["quality", f"target {q.name} is at {q.level}", f"bring {q.metric} back past {q.warning}"]
                for q in data.quality if q.level in ("warning", "missed")]
    add("Improvement actions", ["from", "what", "lesson or action"], actions, "none recorded in this period")

    charts = [] if m.empty and not data.trend else [
        svg_bars(f"Deadlines met on time by {data.trend_by}", [(g.group or "", g.sla_overall.compliance) for g in data.trend], percent=True),
        svg_bars(f"Satisfied customers by {data.trend_by}", [(g.group or "", g.satisfaction.score.share_satisfied) for g in data.trend],
                 percent=True, colour="#2e7d32"),
    ]
    if not m.empty:
        charts += [svg_bars("Cases by category", [(g.group or "", g.cases_opened) for g in data.by_category], colour="#8e5ba8"),
                   svg_bars("Cases by severity", [(g.group or "", g.cases_opened) for g in data.by_severity], colour="#c62828")]
    chart_titles = [c.split('data-chart="', 1)[1].split('"', 1)[0] for c in charts]

    generated = f"Generated {data.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC for cases reported {_day(data.since)} – {_day(data.until)}."
    md = [f"# {title}", "", f"_{generated}_", "", "## Summary", "", summary, ""]
    if charts:
        md += ["_Charts: " + "; ".join(chart_titles) + " (in the HTML version)._", ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p><em>{html.escape(generated)}</em></p>",
            f"<h2>Summary</h2><p>{html.escape(summary)}</p>", *charts]
    for heading, lines, page in sections:
        md += [f"## {heading}", "", *lines, ""]
        body.append(f"<h2>{html.escape(heading)}</h2>{page}")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:64em;margin:2em auto}}"
            "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:left;vertical-align:top}svg{display:block;margin:1em 0}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    return RenderedReport(title=title, summary=summary, markdown="\n".join(md), html=page, charts=chart_titles)
