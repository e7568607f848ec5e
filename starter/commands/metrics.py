"""`crisis metrics`: the service metrics from PostgreSQL, a table for people or `--json`."""

import asyncio

import typer
from rich.table import Table

from crisisdesk.models.metrics import GROUP_FIELDS, CaseMetrics, MetricsQuery, MetricsReport
from crisisdesk.settings import Settings
from starter.commands.common import BadInput, load_settings, run


async def metrics_body(settings: Settings, query: MetricsQuery) -> MetricsReport:
    from activities.db import create_pool
    from activities.metrics import compute_metrics

    pool = await create_pool(settings.dsn(), min_size=1, max_size=1)
    try:
        return await compute_metrics(pool, query)
    finally:
        await pool.close()


async def _may_read(settings: Settings, project: str | None, region: str | None) -> None:
    """With CRISIS_AUTH on: CRISIS_TOKEN's person holds reports:read, and a person scoped to projects or
    regions names one of theirs (as `GET /metrics/cases` asks)."""
    from activities.credentials import CredentialRefused
    from crisisdesk.permissions import Permission
    from starter.auth import cli_principal

    who = await cli_principal(settings, Permission.reports)
    if not who.every_case and not (project in who.projects or region in who.regions):
        raise CredentialRefused(f"{who.person_id} sees the cases of projects {', '.join(who.projects) or '(none)'} and "
                                f"regions {', '.join(who.regions) or '(none)'}: name one of them with --project or --region")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


COLUMNS: list[tuple[str, object]] = [
    ("opened", lambda m: m.cases_opened), ("closed", lambda m: m.cases_closed),
    ("cancelled", lambda m: m.cases_cancelled), ("open", lambda m: m.cases_open),
    ("resolution rate", lambda m: _pct(m.resolution_rate)),
    ("resolved: confirmed / not", lambda m: f"{m.resolutions_confirmed} / {m.resolutions_unconfirmed}"),
    ("ack median/p90", lambda m: f"{_hours(m.time_to_acknowledge.median_seconds)} / {_hours(m.time_to_acknowledge.p90_seconds)}"),
    ("resolve median/p90", lambda m: f"{_hours(m.time_to_resolve.median_seconds)} / {_hours(m.time_to_resolve.p90_seconds)}"),
    ("deadlines on time", lambda m: _pct(m.sla_overall.compliance)),
    ("breaches", lambda m: m.escalations.breaches),
    ("re-opened", lambda m: m.reopenings.cases),
    ("satisfied", lambda m: f"{_pct(m.satisfaction.score.share_satisfied)} of {m.satisfaction.responses}"),
    ("crises", lambda m: m.crises),
]


def show_metrics(report: MetricsReport) -> None:
    from starter.views import out

    out.print(report.message, markup=False)
    if report.empty:
        return
    # One column per group (and "all"), one row per figure: reads down, fits a terminal.
    columns: list[CaseMetrics] = [*report.groups, report] if report.by else [report]
    table = Table(report.by or "", *(m.group if m is not report else "all" for m in columns))
    for name, get in COLUMNS:
        table.add_row(name, *(str(get(m)) for m in columns))
    out.print(table)
    sla = Table("deadline", "on time", "missed", "still breached", "compliance", "late by (median)", "late by (max)")
    for name, c in report.sla_compliance.items():
        sla.add_row(name, str(c.met_on_time), str(c.missed), str(c.still_breached), _pct(c.compliance),
                    _hours(c.late_by_median_seconds), _hours(c.late_by_max_seconds))
    out.print(sla)
    if report.drill_cases:
        out.print(f"{report.drill_cases} drill case(s) in the same period are kept apart (--drills shows them)", markup=False)


def metrics(
    since: str = typer.Option("30d", "--since", help="a duration back from --until (7d, 12h, 2w, P30D) or a date"),
    until: str | None = typer.Option(None, "--until", help="a date, or a duration back from now; default now"),
    by: str | None = typer.Option(None, "--by", help=f"group by one of: {', '.join(GROUP_FIELDS)}"),
    drills: bool = typer.Option(False, "--drills", help="the drill cases (intake ids drill-…) instead of real ones"),
    project: str | None = typer.Option(None, "--project", help="only this project id"),
    region: str | None = typer.Option(None, "--region", help="only this region"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable JSON on stdout"),
) -> None:
    """Service metrics from the cases' record: resolution, response times, deadlines, satisfaction."""
    from starter.metrics_query import QueryError, build_query
    from starter.views import emit_json

    def body() -> MetricsReport:
        try:
            query = build_query(since, until, by, drills, project, region)
        except QueryError as err:
            raise BadInput(str(err)) from None
        settings = load_settings()
        asyncio.run(_may_read(settings, project, region))
        return asyncio.run(metrics_body(settings, query))

    report = run(body)
    emit_json(report) if as_json else show_metrics(report)
