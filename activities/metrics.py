"""Service metrics computed in PostgreSQL from what the cases recorded.

The selection is the cases *reported* in [since, until) (`cases.received_at`, where the SLA clocks
start), real cases and drills (intake ids `drill-…`) kept apart; every figure describes those
cases as they stand now. The figures are read from rollups that triggers keep as cases are recorded
(migration 010_rollups.sql), in one read-only snapshot:

- `case_facts`, one row per case (what its timeline says: closed, cancelled, terminated outside
  crisisdesk, how long it took to acknowledge, breaches, survey answers, …), and `deadline_facts`,
  one per deadline instance (met on time, late, still breached);
- `case_days` and `deadline_days`, those rows summed per UTC day reported and group columns: every
  count of a period's whole days is read from them, the part days at its ends from the facts;
- the percentiles (time to acknowledge, respond, resolve; lateness) need every value of the period,
  and read them from the facts' covering indexes alone; the escalation levels likewise.

Times and lateness are in the time each target is written in: working time for a deadline the case's
playbook counts in business time (`business_time`: the `deadline_met` event's `working_seconds`), the
clock's otherwise (`working_time_cases` says how many cases count working time). A case terminated
outside crisisdesk (the case audit's `terminated` event) is counted apart and is not open.

tests/test_metrics.py checks the figures against a computation from the cases' own timelines, and
the rollups against a rebuild from scratch.

Group keys are fixed SQL expressions chosen from `GROUP_SQL` by name, never text from a caller;
every value is a `$n` parameter.
"""

from datetime import UTC, datetime, time, timedelta
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

# Over `f`, a row of the days or of the facts seen through _FACT_COLUMNS: a group column is '' for none.
GROUP_SQL = {
    "project": "coalesce(nullif(f.project_id, ''), '(none)')",
    "region": "coalesce(nullif(f.region, ''), '(none)')",
    "category": "coalesce(nullif(f.category, ''), '(none)')",
    "severity": "coalesce(nullif(f.severity, ''), '(none)')",
    "path": "coalesce(nullif(f.path, ''), 'ordinary')",
    "playbook": "f.playbook",
    "day": "to_char(f.day, 'YYYY-MM-DD')",
    "week": "to_char(f.day, 'IYYY-\"W\"IW')",
    "month": "to_char(f.day, 'YYYY-MM')",
}
DRILL_PREFIX = "drill-"
_SKIP = "\x00skip"  # a key no group can have (PostgreSQL text never holds NUL)

# A facts table's rows with the days' column names; `{cols}` adds what each query reads.
_FACTS = """(SELECT (received_at AT TIME ZONE 'UTC')::date AS day, coalesce(project_id, '') AS project_id,
                coalesce(region, '') AS region, coalesce(category, '') AS category, coalesce(severity, '') AS severity,
                coalesce(path, '') AS path, coalesce(playbook, '') AS playbook{cols}
         FROM {table} WHERE {where})"""
# $1-$3: drill, project, region. Then over the facts (_PERIOD) $4-$5: since, until; over days and the
# part days at the ends (_DAYS, _EDGES) $4-$5: the whole UTC days [first, last), $6-$9: the part days'
# two ranges of time (see _params).
_FILTER = "drill = $1 AND ($2::text IS NULL OR project_id = $2) AND ($3::text IS NULL OR region = $3)"
_PERIOD = f"received_at >= $4 AND received_at < $5 AND {_FILTER}"
_DAYS = f"day >= $4 AND day < $5 AND {_FILTER}"
_EDGES = f"(received_at >= $6 AND received_at < $7 OR received_at >= $8 AND received_at < $9) AND {_FILTER}"
_GROUP_COLUMNS = "day, project_id, region, category, severity, path, playbook"

_COUNTS = ("opened", "closed", "cancelled", "resolved", "terminated", "open", "ack_n", "response_n", "breaches",
           "cases_breached", "severity_raised", "resolution_rejected", "plan_rejected", "reopened", "surveys_sent",
           "crises", "contingencies", "media", "complaints", "working")
# What one case row counts for, as the days keep it (migration 010, crisis_case_days_changed).
_ONE_CASE = ("1", "closed::int", "cancelled::int", "(resolve_s IS NOT NULL)::int",
             "(terminated AND NOT closed AND NOT cancelled)::int", "(NOT closed AND NOT cancelled AND NOT terminated)::int",
             "(ack_s IS NOT NULL)::int", "(response_s IS NOT NULL)::int", "breaches", "(breaches > 0)::int",
             "severity_raised", "resolution_rejected", "plan_rejected", "(resolution_rejected + plan_rejected > 0)::int",
             "surveys_sent", "crisis::int", "contingency::int", "media::int", "(category = 'complaint')::int",
             "working::int")
_ARRAYS = ", ".join(DIMENSIONS)

_CASES = f"""
SELECT {{grp}} AS grp, {{total}} AS total,
    {", ".join(f"coalesce(sum({c}), 0)::bigint AS {c}" for c in _COUNTS)},
    {", ".join(f"coalesce(sum({d}[{v}]), 0)::bigint AS {d}_{v}" for d in DIMENSIONS for v in range(1, 6))}
FROM (SELECT {_GROUP_COLUMNS}, {", ".join(_COUNTS)}, {_ARRAYS} FROM case_days WHERE {_DAYS}
      UNION ALL
      SELECT * FROM {_FACTS.format(table="case_facts", where=_EDGES, cols=", " + ", ".join(
          f"{expr} AS {name}" for expr, name in zip(_ONE_CASE, _COUNTS)) + "".join(
          f", {d}::bigint[] AS {d}" for d in DIMENSIONS))}) AS f
GROUP BY GROUPING SETS {{sets}}"""

_DURATIONS = f"""
SELECT {{grp}} AS grp, {{total}} AS total,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY ack_s) AS ack_p,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY response_s) AS response_p,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p
FROM {_FACTS.format(table="case_facts", where=_PERIOD, cols=", ack_s, response_s, resolve_s")} AS f
GROUP BY GROUPING SETS {{sets}}"""

_LEVELS = f"""
SELECT {{grp}} AS grp, {{total}} AS total, top_level, count(*) AS n
FROM {_FACTS.format(table="case_facts", where=_PERIOD + " AND top_level IS NOT NULL", cols=", top_level")} AS f
GROUP BY GROUPING SETS {{sets}}"""

_DEADLINES = f"""
SELECT {{grp}} AS grp, name, {{total}} AS total, GROUPING(name) = 1 AS overall,
    coalesce(sum(met_on_time), 0)::bigint AS met_on_time, coalesce(sum(missed), 0)::bigint AS missed,
    coalesce(sum(still_breached), 0)::bigint AS still_breached
FROM (SELECT {_GROUP_COLUMNS}, name, met_on_time, missed, still_breached FROM deadline_days WHERE {_DAYS}
      UNION ALL
      SELECT * FROM {_FACTS.format(table="deadline_facts", where=_EDGES, cols=", name, on_time::int AS met_on_time, "
                                   "(NOT on_time)::int AS missed, (breached AND NOT met)::int AS still_breached")}) AS f
GROUP BY GROUPING SETS {{sets}}"""

_LATE = f"""
SELECT {{grp}} AS grp, name, {{total}} AS total, GROUPING(name) = 1 AS overall,
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY late_by) AS late_p, max(late_by) AS late_max
FROM {_FACTS.format(table="deadline_facts", where=_PERIOD + " AND late_by IS NOT NULL", cols=", name, late_by")} AS f
GROUP BY GROUPING SETS {{sets}}"""

_OTHER_SCOPE = f"SELECT count(*) FROM case_facts WHERE {_PERIOD}"
# Cases opened again after closing (`crisis case reopen`, issue 30): the new case's intake names the old one.
_AFTER_CLOSING = """SELECT count(*) FROM cases WHERE jsonb_typeof(intake->'reopens') = 'object'
    AND received_at >= $4 AND received_at < $5 AND (intake_id LIKE 'drill-%') = $1
    AND ($2::text IS NULL OR project_id = $2) AND ($3::text IS NULL OR region = $3)"""

# Silence is not satisfaction (issue 24): cases whose resolution the customer never confirmed (the case's
# `resolution_unconfirmed` event) and nobody confirmed since, counted apart from the resolved ones.
_UNCONFIRMED = f"""
SELECT {{grp}} AS grp, {{total}} AS total, count(*) AS n
FROM {_FACTS.format(table="case_facts c", where=_PERIOD + " AND resolve_s IS NULL AND EXISTS (SELECT 1 FROM "
                    "timeline_events e WHERE e.case_id = c.case_id AND e.kind = 'resolution_unconfirmed')", cols="")} AS f
GROUP BY GROUPING SETS {{sets}}"""


def _durations(row: asyncpg.Record, durations: asyncpg.Record | None, prefix: str) -> Durations:
    p50, p90 = (durations[f"{prefix}_p"] if durations else None) or (None, None)
    count = row["resolved"] if prefix == "resolve" else row[f"{prefix}_n"]  # a case resolved is one with resolve_s
    return Durations(count=count, median_seconds=p50, p90_seconds=p90)


def _case_figures(row: asyncpg.Record, durations: asyncpg.Record | None) -> CaseMetrics:
    opened = row["opened"]
    metrics = CaseMetrics(
        group=None if row["total"] else row["grp"],
        cases_opened=opened, cases_closed=row["closed"], cases_cancelled=row["cancelled"],
        cases_terminated=row["terminated"], cases_resolved=row["resolved"], cases_open=row["open"],
        resolutions_confirmed=row["resolved"],
        resolution_rate=ratio(row["resolved"], opened - row["cancelled"]),
        time_to_acknowledge=_durations(row, durations, "ack"),
        time_to_first_response=_durations(row, durations, "response"),
        time_to_resolve=_durations(row, durations, "resolve"),
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


def _compliance(row: asyncpg.Record, late: asyncpg.Record | None) -> DeadlineCompliance:
    decided = row["met_on_time"] + row["missed"]
    p50, p90 = (late["late_p"] if late else None) or (None, None)
    return DeadlineCompliance(
        met_on_time=row["met_on_time"], missed=row["missed"], still_breached=row["still_breached"],
        compliance=ratio(row["met_on_time"], decided), late_by_median_seconds=p50,
        late_by_p90_seconds=p90, late_by_max_seconds=late["late_max"] if late else None,
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


def _params(query: MetricsQuery, drills: bool) -> tuple[list[Any], list[Any]]:
    """The parameters over the facts and over the days (see _FILTER): the whole UTC days inside
    [since, until), and the part days around them."""
    since, until = query.since.astimezone(UTC), query.until.astimezone(UTC)
    first = since.date() if since.time() == time(0) else since.date() + timedelta(days=1)
    last = until.date()
    if first >= last:  # no whole day: everything from the facts
        first = last = until.date()
        edges = [since, until, until, until]
    else:
        start, end = (datetime.combine(d, time(0), tzinfo=UTC) for d in (first, last))
        edges = [since, start, end, until]
    scope = [drills, query.project, query.region]
    return [*scope, query.since, query.until], [*scope, first, last, *edges]


async def compute_metrics(pool: asyncpg.Pool, query: MetricsQuery) -> MetricsReport:
    """The figures for the selected cases, and per group when `query.by` is set."""
    grouped = query.by is not None  # ungrouped, only the totals are computed (no second pass per percentile)
    shape = {"grp": GROUP_SQL[query.by] if grouped else "NULL::text",
             "total": f"GROUPING({GROUP_SQL[query.by]}) = 1" if grouped else "true"}
    one = f"(({shape['grp']}), ())" if grouped else "(())"
    by_name = f"(({shape['grp']}, name), (name), ({shape['grp']}), ())" if grouped else "((name), ())"
    period, days = _params(query, query.scope == "drill")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # Room to sort a month of durations in memory rather than in temporary files.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        case_rows = await conn.fetch(_CASES.format(**shape, sets=one), *days)
        duration_rows = await conn.fetch(_DURATIONS.format(**shape, sets=one), *period)
        level_rows = await conn.fetch(_LEVELS.format(**shape, sets=(
            f"(({shape['grp']}, top_level), (top_level))" if grouped else "((top_level))")), *period)
        deadline_rows = await conn.fetch(_DEADLINES.format(**shape, sets=by_name), *days)
        late_rows = await conn.fetch(_LATE.format(**shape, sets=by_name), *period)
        other = await conn.fetchval(_OTHER_SCOPE, *_params(query, query.scope != "drill")[0])
        after_closing = await conn.fetchval(_AFTER_CLOSING, *period)
        unconfirmed_rows = await conn.fetch(_UNCONFIRMED.format(**shape, sets=one), *period)

    def key(row: asyncpg.Record) -> str | None:
        if row["total"]:
            return None
        return row["grp"] if query.by else _SKIP

    durations = {key(r): r for r in duration_rows}
    figures: dict[str | None, CaseMetrics] = {key(r): _case_figures(r, durations.get(key(r))) for r in case_rows
                                              if r["opened"] or r["total"]}
    figures.pop(_SKIP, None)
    if None not in figures or not figures[None].cases_opened:
        figures[None] = CaseMetrics()
    for row in unconfirmed_rows:
        if (target := figures.get(key(row))) is not None:
            target.resolutions_unconfirmed = row["n"]
    for row in level_rows:
        target = figures.get(key(row))
        if target is not None:
            target.escalations.levels_reached[str(row["top_level"] + 1)] = row["n"]
    late = {(key(r), r["name"] if not r["overall"] else None): r for r in late_rows}
    for row in deadline_rows:
        target = figures.get(key(row))
        if target is None or not (row["met_on_time"] or row["missed"] or row["still_breached"]):
            continue
        compliance = _compliance(row, late.get((key(row), row["name"] if not row["overall"] else None)))
        if row["overall"]:
            target.sla_overall = compliance
        else:
            target.sla_compliance[row["name"]] = compliance
    for name, metrics in figures.items():
        metrics.sla_compliance = dict(sorted(metrics.sla_compliance.items()))
        row = next((r for r in case_rows if key(r) == name), None)
        answers = {dim: {v: row[f"{dim}_{v}"] for v in range(1, 6) if row[f"{dim}_{v}"]} for dim in DIMENSIONS} if row else {}
        _finish_satisfaction(metrics, answers)

    total = figures[None]
    if after_closing:  # a closed case the customer called again about: one more case with a re-opening
        reo = total.reopenings
        reo.after_closing, reo.cases = after_closing, reo.cases + after_closing
        reo.rate = ratio(reo.cases, total.cases_opened)
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
