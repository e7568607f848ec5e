"""Service metrics computed in PostgreSQL from what the cases recorded.

The selection is the cases *reported* in [since, until) (`cases.received_at`, where the SLA clocks
start), real cases and drills (intake ids `drill-…`) kept apart; every figure describes those
cases as they stand now. The figures are read from rollups that triggers keep as cases are recorded
(migration 010_rollups.sql), in one read-only snapshot:

1. `case_facts`, one row per case, what its timeline says: closed, cancelled, when acknowledged /
   first responded / resolved, breaches and the highest escalation level, re-openings, crisis,
   contingency, media, and its survey answers by value;
2. `deadline_facts`, one row per deadline instance (case, name, due time): met on time, met late or
   still breached.

A month of a million cases is then one pass over a million narrow rows (and the deadline instances),
not a join of twenty million timeline events; tests/test_metrics.py checks the figures against a
computation from the cases' own timelines.

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
    "project": "coalesce(f.project_id, '(none)')",
    "region": "coalesce(f.region, '(none)')",
    "category": "coalesce(f.category, '(none)')",
    "severity": "coalesce(f.severity, '(none)')",
    "path": "coalesce(f.path, 'ordinary')",
    "playbook": "f.playbook",
    "day": "to_char(f.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "week": "to_char(f.received_at AT TIME ZONE 'UTC', 'IYYY-\"W\"IW')",
    "month": "to_char(f.received_at AT TIME ZONE 'UTC', 'YYYY-MM')",
}
DRILL_PREFIX = "drill-"
_SKIP = "\x00skip"  # a key no group can have (PostgreSQL text never holds NUL)

# The cases (or deadline instances) reported in the period, real or drill, filtered; `f` is the row.
_WHERE = """f.received_at >= $1 AND f.received_at < $2 AND f.drill = $3
      AND ($4::text IS NULL OR f.project_id = $4) AND ($5::text IS NULL OR f.region = $5)"""

_CASES = """
SELECT {grp} AS grp, {total} AS total,
    count(*) AS opened,
    count(*) FILTER (WHERE closed) AS closed,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(*) FILTER (WHERE resolve_s IS NOT NULL) AS resolved,
    count(*) FILTER (WHERE NOT closed AND NOT cancelled) AS open,
    count(ack_s) AS ack_n,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY ack_s) AS ack_p,
    count(response_s) AS response_n,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY response_s) AS response_p,
    count(resolve_s) AS resolve_n,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p,
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
    {answers}
FROM (SELECT {group} AS grp, f.*,
             extract(epoch FROM f.ack_at - f.origin)::float8 AS ack_s,
             extract(epoch FROM f.response_at - f.origin)::float8 AS response_s,
             extract(epoch FROM f.resolve_at - f.origin)::float8 AS resolve_s
      FROM case_facts f WHERE {where}) AS c
GROUP BY GROUPING SETS {sets}"""
# Survey answers: how many answered each value of each dimension (case_facts keeps them per case).
_ANSWERS = ",\n    ".join(f"coalesce(sum({dim}[{v}]), 0)::bigint AS {dim}_{v}" for dim in DIMENSIONS for v in range(1, 6))

_LEVELS = """
SELECT {grp} AS grp, {total} AS total, top_level, count(*) AS n
FROM (SELECT {group} AS grp, f.top_level FROM case_facts f WHERE {where} AND f.top_level IS NOT NULL) AS l
GROUP BY GROUPING SETS {sets}"""

_DEADLINES = """
SELECT {grp} AS grp, name, {total} AS total, GROUPING(name) = 1 AS overall,
    count(*) FILTER (WHERE on_time) AS met_on_time,
    count(*) FILTER (WHERE NOT on_time) AS missed,
    count(*) FILTER (WHERE breached AND NOT met) AS still_breached,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY late_by) AS late_p,
    max(late_by) AS late_max
FROM (SELECT {group} AS grp, f.name, f.on_time, f.met, f.breached, f.late_by
      FROM deadline_facts f WHERE {where}) AS d
GROUP BY GROUPING SETS {sets}"""

_OTHER_SCOPE = "SELECT count(*) FROM case_facts f WHERE {where}"


def _durations(row: asyncpg.Record, prefix: str) -> Durations:
    p50, p90 = row[f"{prefix}_p"] or (None, None)
    return Durations(count=row[f"{prefix}_n"], median_seconds=p50, p90_seconds=p90)


def _case_figures(row: asyncpg.Record) -> CaseMetrics:
    opened = row["opened"]
    metrics = CaseMetrics(
        group=None if row["total"] else row["grp"],
        cases_opened=opened, cases_closed=row["closed"], cases_cancelled=row["cancelled"],
        cases_resolved=row["resolved"], cases_open=row["open"],
        resolution_rate=ratio(row["resolved"], opened - row["cancelled"]),
        time_to_acknowledge=_durations(row, "ack"), time_to_first_response=_durations(row, "response"),
        time_to_resolve=_durations(row, "resolve"),
        crises=row["crises"], contingencies=row["contingencies"], media_involved=row["media"],
        complaints=row["complaints"], complaint_rate=ratio(row["complaints"], opened),
    )
    esc, reo = metrics.escalations, metrics.reopenings
    esc.breaches, esc.cases_breached, esc.severity_raised = row["breaches"], row["cases_breached"], row["severity_raised"]
    reo.resolution_rejected, reo.plan_rejected, reo.cases = row["resolution_rejected"], row["plan_rejected"], row["reopened"]
    reo.rate = ratio(row["reopened"], opened)
    metrics.satisfaction.surveys_sent = row["surveys_sent"]
    return metrics


def _compliance(row: asyncpg.Record) -> DeadlineCompliance:
    decided = row["met_on_time"] + row["missed"]
    p50, p90 = row["late_p"] or (None, None)
    return DeadlineCompliance(
        met_on_time=row["met_on_time"], missed=row["missed"], still_breached=row["still_breached"],
        compliance=ratio(row["met_on_time"], decided), late_by_median_seconds=p50,
        late_by_p90_seconds=p90, late_by_max_seconds=row["late_max"],
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
    """The figures for the selected cases, and per group when `query.by` is set: read from the rollups
    (migration 010), so a month of a million cases is a scan of their facts, not of their timelines."""
    group = GROUP_SQL[query.by] if query.by else "NULL::text"
    params = _params(query, query.scope == "drill")
    grouped = query.by is not None  # ungrouped, only the totals are computed (no second sort per percentile)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # Room to sort a month of durations in memory rather than in temporary files.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        shape = {"group": group, "where": _WHERE, "grp": "grp" if grouped else "NULL::text",
                 "total": "GROUPING(grp) = 1" if grouped else "true"}
        case_rows = await conn.fetch(_CASES.format(**shape, answers=_ANSWERS,
                                                   sets="((grp), ())" if grouped else "(())"), *params)
        level_rows = await conn.fetch(_LEVELS.format(**shape, sets=(
            "((grp, top_level), (top_level))" if grouped else "((top_level))")), *params)
        deadline_rows = await conn.fetch(_DEADLINES.format(**shape, sets=(
            "((grp, name), (name), (grp), ())" if grouped else "((name), ())")), *params)
        other = await conn.fetchval(_OTHER_SCOPE.format(where=_WHERE), *_params(query, query.scope != "drill"))

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
    answers = {key(r): {dim: {v: r[f"{dim}_{v}"] for v in range(1, 6) if r[f"{dim}_{v}"]} for dim in DIMENSIONS}
               for r in case_rows}
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
