"""The after-sales service report to management (004 §八(二)) as Markdown and HTML with SVG charts.

Pure: a function of the gathered data, the reader's locale and time zone. The words come from the
catalogue (crisisdesk/locale, `service.*`), the layout from jinja2 templates
(activities/templates/service_report.{md,html}.j2); days are the reader's days. An empty period says so
in its title and first line.
"""

from dataclasses import dataclass, field
from datetime import datetime

from activities.charts import svg_bars
from activities.service_report_data import ServiceReportData
from activities.templating import TEMPLATES
from crisisdesk import i18n
from crisisdesk.models.metrics import CaseMetrics, DeadlineCompliance

DIMENSIONS = ("score", "timeliness", "effectiveness", "attitude")


@dataclass
class RenderedReport:
    title: str
    summary: str
    markdown: str
    html: str
    charts: list[str] = field(default_factory=list)


@dataclass
class Section:
    heading: str
    head: list[str]
    rows: list[list[object]]
    empty: str


class Words:
    """The report's words and figures in one reader's locale and zone."""

    def __init__(self, locale: str | None, tz: str | None) -> None:
        self.locale, self.tz = i18n.loc(locale), tz

    def __call__(self, msg_id: str, /, **args: object) -> str:
        return i18n.text(self.locale, msg_id, tz=self.tz, **args)

    def day(self, value: datetime) -> str:
        return i18n.day(value, self.locale, self.tz)

    def when(self, value: datetime | None) -> str:
        return i18n.when(value, self.locale, self.tz) if value else "–"

    @staticmethod
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.1%}"

    def hours(self, seconds: float | None) -> str:
        return "–" if seconds is None else self("service.hours", hours=f"{seconds / 3600:.1f}")

    def figure(self, value: float | None, metric: str) -> str:
        """A quality metric's value: hours for `…_hours` metrics, else a share."""
        if value is None:
            return self("service.no_data")
        return self("service.hours", hours=f"{value:.1f}") if metric.endswith("_hours") else f"{value:.1%}"

    def listing(self, values: list[str]) -> str:
        return i18n.listing(values, self.locale)

    def yes(self, value: bool) -> str:
        return self("service.yes" if value else "service.no")

    def term(self, name: str, value: str | None) -> str:
        return i18n.term(name, value, self.locale) if value else "–"

    def columns(self, *names: str) -> list[str]:
        return [self(f"service.col.{n}") if "." not in n else self(n) for n in names]


def summarise(data: ServiceReportData, w: Words) -> str:
    m, since, until = data.metrics, w.day(data.since), w.day(data.until)
    if m.empty:
        return w("service.summary.empty", since=since, until=until)
    terminated = w("service.summary.terminated", count=m.cases_terminated) if m.cases_terminated else ""
    return w("service.summary", opened=m.cases_opened, since=since, until=until, closed=m.cases_closed,
             cancelled=m.cases_cancelled, terminated=terminated, open=m.cases_open,
             resolution_rate=w.pct(m.resolution_rate), confirmed=m.resolutions_confirmed,
             unconfirmed=m.resolutions_unconfirmed, compliance=w.pct(m.sla_overall.compliance), missed=m.sla_overall.missed,
             ack=w.hours(m.time_to_acknowledge.median_seconds), resolve=w.hours(m.time_to_resolve.median_seconds),
             satisfied=w.pct(m.satisfaction.score.share_satisfied), responses=m.satisfaction.responses,
             sent=m.satisfaction.surveys_sent, crises=m.crises, contingencies=m.contingencies, media=m.media_involved)


def _groups(w: Words, groups: list[CaseMetrics], term: str | None = None) -> list[list[object]]:
    return [[w.term(term, g.group) if term else (g.group or "–"), g.cases_opened, g.cases_closed,
             w.pct(g.resolution_rate), w.pct(g.sla_overall.compliance), w.pct(g.satisfaction.score.share_satisfied),
             w.hours(g.time_to_resolve.median_seconds)] for g in groups]


def _compliance(w: Words, sla: dict[str, DeadlineCompliance]) -> list[list[object]]:
    return [[w.term("deadline", name), c.met_on_time, c.missed, c.still_breached, w.pct(c.compliance),
             w.hours(c.late_by_median_seconds), w.hours(c.late_by_max_seconds)] for name, c in sla.items()]


def _median_p90(w: Words, figure) -> str:
    return f"{w.hours(figure.median_seconds)} / {w.hours(figure.p90_seconds)}"


def sections(data: ServiceReportData, w: Words) -> list[Section]:
    m, sat = data.metrics, data.metrics.satisfaction
    group_head = w.columns("group", "opened", "closed", "resolution_rate", "deadlines_on_time", "satisfied",
                           "resolve_median")
    levels = w.listing([w("service.fig.level", level=k, count=v) for k, v in sorted(m.escalations.levels_reached.items())])
    figures = [
        ("opened", m.cases_opened), ("closed", m.cases_closed), ("cancelled", m.cases_cancelled),
        ("resolved", m.cases_resolved), ("unconfirmed", m.resolutions_unconfirmed),
        ("resolution_rate", w.pct(m.resolution_rate)), ("acknowledge", _median_p90(w, m.time_to_acknowledge)),
        ("first_response", _median_p90(w, m.time_to_first_response)), ("resolve", _median_p90(w, m.time_to_resolve)),
        ("breaches", f"{m.escalations.breaches} ({m.escalations.cases_breached})"),
        ("levels", levels or w("service.none")),
        ("reopenings", f"{m.reopenings.resolution_rejected} / {m.reopenings.plan_rejected}"),
        ("crises", f"{m.crises} / {m.contingencies} / {m.media_involved}"), ("drills", m.drill_cases)]
    actions = [[i.case_id, i.title, i.lessons] for i in data.improvements]
    actions += [[w("service.action.quality"), w("service.action.target_at", name=q.name, level=w(f"service.level.{q.level}")),
                 w("service.action.bring_back", metric=q.metric, warning=w.figure(q.warning, q.metric))]
                for q in data.quality if q.level in ("warning", "missed")]
    return [
        Section(w("service.h.quality"), w.columns("target", "metric", "value", "threshold", "warning", "level"),
                [[q.name, q.metric, w.figure(q.value, q.metric),
                  f"{'≥' if q.direction == 'at_least' else '≤'} {w.figure(q.bound, q.metric)}",
                  w.figure(q.warning, q.metric), w(f"service.level.{q.level}")]
                 for q in data.quality], w("service.empty.quality")),
        Section(w("service.h.figures"), w.columns("figure", "value"),
                [[w(f"service.fig.{name}"), value] for name, value in figures], w("service.none")),
        Section(w("service.h.deadlines"), w.columns("report.col.deadline", "on_time", "missed", "still_breached",
                                                    "compliance", "late_median", "late_max"),
                _compliance(w, m.sla_compliance), w("service.empty.deadlines")),
        Section(w("service.h.satisfaction"), [*w.columns("dimension", "answers", "satisfied_4_5"), "1", "2", "3", "4", "5"],
                [[w(f"service.dim.{d}"), getattr(sat, d).answers, w.pct(getattr(sat, d).share_satisfied),
                  *getattr(sat, d).distribution.values()] for d in DIMENSIONS] if sat.responses else [],
                w("service.empty.survey", sent=sat.surveys_sent)),
        Section(w("service.h.trend", by=w(f"service.by.{data.trend_by}")), group_head, _groups(w, data.trend),
                w("service.empty.trend")),
        Section(w("service.h.by_category"), group_head, _groups(w, data.by_category, "category"), w("service.empty.cases")),
        Section(w("service.h.by_severity"), group_head, _groups(w, data.by_severity, "severity"), w("service.empty.cases")),
        Section(w("service.h.by_playbook"), group_head, _groups(w, data.by_playbook), w("service.empty.cases")),
        Section(w("service.h.slowest"), w.columns("case", "summary", "severity", "category", "stage", "hours", "resolved"),
                [[s.case_id, s.summary, w.term("severity", s.severity), w.term("category", s.category),
                  w.term("stage", s.stage), round(s.hours, 1), w.yes(s.resolved)] for s in data.slowest],
                w("service.empty.cases")),
        Section(w("service.h.causes"), w.columns("cause", "in_period", "all_time", "categories", "articles"),
                [[c.cause, c.in_period, c.all_time, w.listing([w.term("category", x) for x in c.categories]),
                  "; ".join(c.titles)] for c in data.causes], w("service.empty.causes")),
        Section(w("service.h.risks"), w.columns("case", "summary", "stage", "severity", "path", "contingency", "breached",
                                                "next_deadline"),
                [[r.case_id, r.summary, w.term("stage", r.stage), w.term("severity", r.severity), w.term("path", r.path),
                  w.yes(r.contingency), w.yes(r.breached), w.when(r.next_deadline)] for r in data.risks],
                w("service.empty.risks")),
        Section(w("service.h.actions"), w.columns("from", "what", "lesson"), actions, w("service.empty.actions")),
    ]


def charts(data: ServiceReportData, w: Words) -> list[str]:
    m, by, no_data = data.metrics, w(f"service.by.{data.trend_by}"), w("service.no_data")
    drawn = [] if m.empty and not data.trend else [
        svg_bars(w("service.chart.on_time", by=by), [(g.group or "", g.sla_overall.compliance) for g in data.trend],
                 percent=True, no_data=no_data),
        svg_bars(w("service.chart.satisfied", by=by), [(g.group or "", g.satisfaction.score.share_satisfied)
                                                       for g in data.trend], percent=True, colour="#2e7d32", no_data=no_data),
    ]
    if not m.empty:
        drawn += [svg_bars(w("service.chart.by_category"), [(w.term("category", g.group), g.cases_opened)
                                                            for g in data.by_category], colour="#8e5ba8", no_data=no_data),
                  svg_bars(w("service.chart.by_severity"), [(w.term("severity", g.group), g.cases_opened)
                                                            for g in data.by_severity], colour="#c62828", no_data=no_data)]
    return drawn


def render_service_report(data: ServiceReportData, locale: str | None = None, tz: str | None = None) -> RenderedReport:
    w = Words(locale, tz)
    since, until = w.day(data.since), w.day(data.until)
    title = w(f"service.title.{data.period}", since=since, until=until)
    if data.metrics.empty:
        title = w("service.title.empty", title=title)
    drawn = charts(data, w)
    chart_titles = [c.split('data-chart="', 1)[1].split('"', 1)[0] for c in drawn]
    page = dict(t=w, lang=w.locale, title=title, summary=summarise(data, w), sections=sections(data, w),
                generated=w("service.generated", at=data.at, since=since, until=until),
                charts_note=w("service.charts", titles=w.listing(chart_titles)) if drawn else "")
    return RenderedReport(title=title, summary=page["summary"], charts=chart_titles,
                          markdown=TEMPLATES.get_template("service_report.md.j2").render(page),
                          html=TEMPLATES.get_template("service_report.html.j2").render(page, charts=drawn))
