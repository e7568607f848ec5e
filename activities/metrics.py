"""Service metrics computed in PostgreSQL from what the cases recorded.

The selection is the cases *reported* in [since, until) (`cases.received_at`, where the SLA clocks
start), real cases and drills (intake ids `drill-…`) kept apart; every figure describes those
cases as they stand now. Three passes, in one read-only snapshot:

1. per case, one scan of its timeline: closed, cancelled, terminated outside crisisdesk, when acknowledged / first responded /
   resolved, breaches and the highest escalation level, re-openings, crisis, contingency, media;
2. per deadline instance (case, name, due time): met on time, met late or still breached;
3. the survey answers.

Times and lateness are in the time each target is written in: working time for a deadline the case's
playbook counts in business time (`business_time`), the clock's otherwise (`working_time_cases` says
how many cases count working time).

Group keys are fixed SQL expressions chosen from `GROUP_SQL` by name, never text from a caller;
every value is a `$n` parameter.
"""

from typing import Any

import asyncpg

from crisisdesk.models.metrics import (
    DIMENSIONS,
    SATISFIED_FROM,
    CaseMetrics,
    DeadlineCompliance,
    Dimension,
    Durations,
    MetricsQuery,
    MetricsReport,
    ratio,
)

GROUP_SQL = {
    "project": "coalesce(c.project_id, '(none)')",
    "region": "coalesce(c.region, '(none)')",
    "category": "coalesce(c.category, '(none)')",
    "severity": "coalesce(c.severity, '(none)')",
    "path": "coalesce(c.path, 'ordinary')",
    "playbook": "c.playbook || ' v' || c.playbook_version",
    "day": "to_char(c.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "week": "to_char(c.received_at AT TIME ZONE 'UTC', 'IYYY-\"W\"IW')",
    "month": "to_char(c.received_at AT TIME ZONE 'UTC', 'YYYY-MM')",
}
DRILL_PREFIX = "drill-"
_SKIP = "\x00skip"  # a key no group can have (PostgreSQL text never holds NUL)

_SELECTION = """
    SELECT c.case_id, c.category, {group} AS grp,
           -- the SLA clocks' origin as the case itself keeps it (the column can lag it by the opening)
           coalesce((c.status->>'received_at')::timestamptz, c.received_at) AS received_at
    FROM cases c
    WHERE c.received_at >= $1 AND c.received_at < $2
      AND (c.intake_id LIKE 'drill-%') = $3
      AND ($4::text IS NULL OR c.project_id = $4)
      AND ($5::text IS NULL OR c.region = $5)"""

_FACTS = """
CREATE TEMP TABLE metrics_facts ON COMMIT DROP AS
WITH sel AS ({selection})
SELECT s.case_id, s.grp, s.category,
    coalesce(bool_or(e.kind = 'stage' AND e.name = 'closed'), false) AS closed,
    coalesce(bool_or(e.kind = 'stage' AND e.name = 'cancelled'), false) AS cancelled,
    coalesce(bool_or(e.kind = 'terminated'), false) AS terminated,
    min({took}) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'acknowledgement') AS ack_s,
    min({took}) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'response') AS response_s,
    min({took}) FILTER (WHERE e.kind = 'deadline_met' AND e.name = 'resolution') AS resolve_s,
    coalesce(bool_or(e.kind = 'deadline_met' AND e.detail ? 'working_seconds'), false) AS working,
    count(e.seq) FILTER (WHERE e.kind = 'breach') AS breaches,
    max((e.detail->>'level')::int) FILTER (WHERE e.kind IN ('breach', 'reminder', 'escalated')) AS top_level,
    count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'escalate') AS severity_raised,
    count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'resolution_confirmed'
                         AND e.detail->>'satisfied' = 'false') AS resolution_rejected,
    count(e.seq) FILTER (WHERE e.kind = 'action' AND e.name = 'customer_answer'
                         AND e.detail->>'satisfied' = 'false') AS plan_rejected,
    count(e.seq) FILTER (WHERE e.kind = 'survey_sent') AS surveys_sent,
    coalesce(bool_or(e.kind = 'path' AND e.name = 'crisis'), false) AS crisis,
    coalesce(bool_or(e.kind = 'contingency'), false) AS contingency,
    coalesce(bool_or(e.kind = 'action' AND e.name = 'external_involvement'
                     AND e.detail->>'party' = 'media'), false) AS media
FROM sel s LEFT JOIN timeline_events e ON e.case_id = s.case_id AND e.kind IN ({kinds})
GROUP BY s.case_id, s.grp, s.category, s.received_at"""
# Time to acknowledge, respond, resolve: in the time the target is written in. A target in business time
# records the working time it took (`working_seconds`, workflows/casefile.py `meet`); others the clock's.
_TOOK = "coalesce((e.detail->>'working_seconds')::float8, extract(epoch FROM e.at - s.received_at)::float8)"
# Only the kinds the facts read: notifications, reports and deadline_set are most of a timeline.
_FACT_KINDS = ", ".join(f"'{k}'" for k in ("stage", "deadline_met", "breach", "reminder", "escalated", "action",
                                            "survey_sent", "path", "contingency", "terminated"))

_CASES = """
SELECT grp, GROUPING(grp) = 1 AS total,
    count(*) AS opened,
    count(*) FILTER (WHERE closed) AS closed,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(*) FILTER (WHERE resolve_s IS NOT NULL) AS resolved,
    count(*) FILTER (WHERE terminated AND NOT closed AND NOT cancelled) AS terminated,
    count(*) FILTER (WHERE NOT closed AND NOT cancelled AND NOT terminated) AS open,
    count(ack_s) AS ack_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_s) AS ack_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_s) AS ack_p90,
    count(response_s) AS response_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY response_s) AS response_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY response_s) AS response_p90,
    count(resolve_s) AS resolve_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p90,
    coalesce(sum(breaches), 0)::bigint AS breaches,
    count(*) FILTER (WHERE breaches > 0) AS cases_breached,
    coalesce(sum(severity_raised), 0)::bigint AS severity_raised,
    coalesce(sum(resolution_rejected), 0)::bigint AS resolution_rejected,
    coalesce(sum(plan_rejected), 0)::bigint AS plan_rejected,
    count(*) FILTER (WHERE resolution_rejected + plan_rejected > 0) AS reopened,
    coalesce(sum(surveys_sent), 0)::bigint AS surveys_sent,
    count(*) FILTER (WHERE crisis) AS crises,
    count(*) FILTER (WHERE contingency) AS contingencies,
    count(*) FILTER (WHERE media) AS media,
    count(*) FILTER (WHERE category = 'complaint') AS complaints,
    count(*) FILTER (WHERE working) AS working
FROM metrics_facts GROUP BY GROUPING SETS {sets}"""

_LEVELS = """
SELECT grp, GROUPING(grp) = 1 AS total, top_level, count(*) AS n
FROM metrics_facts WHERE top_level IS NOT NULL
GROUP BY GROUPING SETS {sets}"""

_DEADLINES = """
WITH sel AS ({selection}),
inst AS (
    SELECT s.grp, e.name, e.case_id, (e.detail->>'due_at')::timestamptz AS due,
        bool_or(e.kind = 'deadline_met' AND NOT (e.detail ? 'late_by_seconds')) AS on_time,
        bool_or(e.kind = 'deadline_met') AS met,
        bool_or(e.kind = 'breach') AS breached,
        max((e.detail->>'late_by_seconds')::float8) FILTER (WHERE e.kind = 'deadline_met') AS late_by
    FROM sel s JOIN timeline_events e ON e.case_id = s.case_id
    WHERE e.kind IN ('deadline_met', 'breach')
    GROUP BY 1, 2, 3, 4
)
SELECT grp, name, GROUPING(grp) = 1 AS total, GROUPING(name) = 1 AS overall,
    count(*) FILTER (WHERE on_time) AS met_on_time,
    count(*) FILTER (WHERE NOT on_time) AS missed,
    count(*) FILTER (WHERE breached AND NOT met) AS still_breached,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY late_by) AS late_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY late_by) AS late_p90,
    max(late_by) AS late_max
FROM inst GROUP BY GROUPING SETS {sets}"""

_SURVEYS = """
WITH sel AS ({selection})
SELECT s.grp, GROUPING(s.grp) = 1 AS total, d.dim, d.v, count(*) AS n
FROM sel s JOIN survey_responses r ON r.case_id = s.case_id
CROSS JOIN LATERAL (VALUES ('score', r.score), ('timeliness', r.timeliness),
                           ('effectiveness', r.effectiveness), ('attitude', r.attitude)) AS d(dim, v)
WHERE d.v IS NOT NULL
GROUP BY GROUPING SETS {sets}"""

_OTHER_SCOPE = "SELECT count(*) FROM ({selection}) AS other"


def _durations(row: asyncpg.Record, prefix: str) -> Durations:
    return Durations(count=row[f"{prefix}_n"], median_seconds=row[f"{prefix}_p50"], p90_seconds=row[f"{prefix}_p90"])


def _case_figures(row: asyncpg.Record) -> CaseMetrics:
    opened = row["opened"]
    metrics = CaseMetrics(
        group=None if row["total"] else row["grp"],
        cases_opened=opened, cases_closed=row["closed"], cases_cancelled=row["cancelled"],
        cases_terminated=row["terminated"], cases_resolved=row["resolved"], cases_open=row["open"],
        resolution_rate=ratio(row["resolved"], opened - row["cancelled"]),
        time_to_acknowledge=_durations(row, "ack"), time_to_first_response=_durations(row, "response"),
        time_to_resolve=_durations(row, "resolve"),
        crises=row["crises"], contingencies=row["contingencies"], media_involved=row["media"],
        complaints=row["complaints"], complaint_rate=ratio(row["complaints"], opened),
        working_time_cases=row["working"],
    )
    esc, reo = metrics.escalations, metrics.reopenings
    esc.breaches, esc.cases_breached, esc.severity_raised = row["breaches"], row["cases_breached"], row["severity_raised"]
    reo.resolution_rejected, reo.plan_rejected, reo.cases = row["resolution_rejected"], row["plan_rejected"], row["reopened"]
    reo.rate = ratio(row["reopened"], opened)
    metrics.satisfaction.surveys_sent = row["surveys_sent"]
    return metrics


def _compliance(row: asyncpg.Record) -> DeadlineCompliance:
    decided = row["met_on_time"] + row["missed"]
    return DeadlineCompliance(
        met_on_time=row["met_on_time"], missed=row["missed"], still_breached=row["still_breached"],
        compliance=ratio(row["met_on_time"], decided), late_by_median_seconds=row["late_p50"],
        late_by_p90_seconds=row["late_p90"], late_by_max_seconds=row["late_max"],
    )


def _finish_satisfaction(metrics: CaseMetrics, counts: dict[str, dict[int, int]]) -> None:
    sat = metrics.satisfaction
    for dim in DIMENSIONS:
        found = counts.get(dim, {})
        answers = sum(found.values())
        dimension = Dimension(answers=answers, distribution={str(k): found.get(k, 0) for k in range(1, 6)},
                              share_satisfied=ratio(sum(n for v, n in found.items() if v >= SATISFIED_FROM), answers),
                              mean=ratio(sum(v * n for v, n in found.items()), answers))
        setattr(sat, dim, dimension)
    sat.responses = sat.score.answers
    sat.response_rate = ratio(sat.responses, sat.surveys_sent)


def _params(query: MetricsQuery, drills: bool) -> list[Any]:
    return [query.since, query.until, drills, query.project, query.region]


async def compute_metrics(pool: asyncpg.Pool, query: MetricsQuery) -> MetricsReport:
    """The figures for the selected cases, and per group when `query.by` is set."""
    group = GROUP_SQL[query.by] if query.by else "NULL::text"
    selection = _SELECTION.format(group=group)
    params = _params(query, query.scope == "drill")
    # The same grouping sets with or without `by`: ungrouped, the per-group rows are dropped below.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        # Room to hash and sort a month of cases in memory rather than in temporary files.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        await conn.execute(_FACTS.format(selection=selection, kinds=_FACT_KINDS, took=_TOOK), *params)
        case_rows = await conn.fetch(_CASES.format(sets="((grp), ())"))
        level_rows = await conn.fetch(_LEVELS.format(sets="((grp, top_level), (top_level))"))
        deadline_rows = await conn.fetch(_DEADLINES.format(selection=selection, sets="((grp, name), (name), (grp), ())"),
                                         *params)
        survey_rows = await conn.fetch(_SURVEYS.format(selection=selection, sets="((s.grp, d.dim, d.v), (d.dim, d.v))"),
                                       *params)
        other = await conn.fetchval(_OTHER_SCOPE.format(selection=_SELECTION.format(group="NULL::text")),
                                    *_params(query, query.scope != "drill"))

    def key(row: asyncpg.Record) -> str | None:
        if row["total"]:
            return None
        return row["grp"] if query.by else _SKIP

    figures: dict[str | None, CaseMetrics] = {key(r): _case_figures(r) for r in case_rows}
    figures.pop(_SKIP, None)
    figures.setdefault(None, CaseMetrics())
    for row in level_rows:
        target = figures.get(key(row))
        if target is not None:
            target.escalations.levels_reached[str(row["top_level"] + 1)] = row["n"]
    for row in deadline_rows:
        target = figures.get(key(row))
        if target is None:
            continue
        if row["overall"]:
            target.sla_overall = _compliance(row)
        else:
            target.sla_compliance[row["name"]] = _compliance(row)
    answers: dict[str | None, dict[str, dict[int, int]]] = {}
    for row in survey_rows:
        answers.setdefault(key(row), {}).setdefault(row["dim"], {})[row["v"]] = row["n"]
    for name, metrics in figures.items():
        metrics.sla_compliance = dict(sorted(metrics.sla_compliance.items()))
        _finish_satisfaction(metrics, answers.get(name, {}))

    total = figures[None]
    groups = sorted((m for g, m in figures.items() if g is not None), key=lambda m: m.group or "")
    kind = "drill" if query.scope == "drill" else "real"
    empty = total.cases_opened == 0
    message = (f"no {kind} cases were reported between {query.since.isoformat()} and {query.until.isoformat()}"
               + (" for the filters given" if query.project or query.region else "") + ": the figures are empty"
               if empty else f"{total.cases_opened} {kind} case(s) reported between {query.since.isoformat()} "
                             f"and {query.until.isoformat()}")
    return MetricsReport(**total.model_dump(exclude={"group"}), since=query.since, until=query.until, by=query.by,
                         scope=query.scope, empty=empty, message=message, groups=groups,
                         drill_cases=other if kind == "real" else total.cases_opened)
