"""What a service report says, gathered from PostgreSQL: the period's metrics and their trend, the
slowest cases, the recurring causes from reviews, open risks and improvement actions (004 §八(二)).

Real cases only: drills (intake ids `drill-…`) are counted apart by the metrics and left out here.
"""

from datetime import datetime, timedelta

import asyncpg
from pydantic import BaseModel, Field

from activities.metrics import compute_metrics
from crisisdesk.models.metrics import CaseMetrics, MetricsQuery, MetricsReport
from crisisdesk.models.service import Period, TargetResult

TREND = {"weekly": ("week", timedelta(weeks=8)), "monthly": ("month", timedelta(days=183))}
LIMIT = 10


class SlowCase(BaseModel):
    case_id: str
    summary: str
    severity: str | None
    category: str | None
    stage: str
    hours: float
    resolved: bool


class Cause(BaseModel):
    cause: str
    in_period: int
    all_time: int
    categories: list[str]
    titles: list[str]


class Risk(BaseModel):
    case_id: str
    summary: str
    stage: str
    severity: str | None
    path: str | None
    contingency: bool
    breached: bool
    next_deadline: datetime | None


class Improvement(BaseModel):
    case_id: str
    title: str
    lessons: str
    at: datetime


class ServiceReportData(BaseModel):
    period: Period
    since: datetime
    until: datetime
    at: datetime
    metrics: MetricsReport
    trend_by: str
    trend: list[CaseMetrics] = Field(default_factory=list)
    by_category: list[CaseMetrics] = Field(default_factory=list)
    by_severity: list[CaseMetrics] = Field(default_factory=list)
    by_playbook: list[CaseMetrics] = Field(default_factory=list)
    slowest: list[SlowCase] = Field(default_factory=list)
    causes: list[Cause] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    improvements: list[Improvement] = Field(default_factory=list)
    quality: list[TargetResult] = Field(default_factory=list)


_SLOWEST = """
SELECT c.case_id, c.summary, c.severity, c.category, c.stage,
       extract(epoch FROM coalesce(r.resolved_at, $3) - c.received_at)::float8 / 3600 AS hours,
       r.resolved_at IS NOT NULL AS resolved
FROM cases c
LEFT JOIN LATERAL (SELECT min(e.at) AS resolved_at FROM timeline_events e
                   WHERE e.case_id = c.case_id AND e.kind = 'deadline_met' AND e.name = 'resolution') r ON true
WHERE c.received_at >= $1 AND c.received_at < $2 AND c.intake_id NOT LIKE 'drill-%' AND c.stage NOT IN ('cancelled', 'terminated')
ORDER BY hours DESC, c.case_id LIMIT $4"""

_CAUSES = """
SELECT min(btrim(k.cause)) AS cause,
       count(*) FILTER (WHERE k.at >= $1) AS in_period, count(*) AS all_time,
       array_remove(array_agg(DISTINCT k.category), NULL) AS categories,
       (array_agg(k.title ORDER BY k.at DESC))[1:3] AS titles
FROM knowledge_articles k JOIN cases c ON c.case_id = k.case_id
WHERE k.at < $2 AND c.intake_id NOT LIKE 'drill-%'
GROUP BY lower(btrim(k.cause))
HAVING count(*) FILTER (WHERE k.at >= $1) > 0
ORDER BY in_period DESC, all_time DESC, cause LIMIT $3"""

_RISKS = """
SELECT case_id, summary, stage, severity, path, contingency, breached, next_deadline FROM cases
WHERE stage NOT IN ('closed', 'cancelled', 'terminated') AND intake_id NOT LIKE 'drill-%'
  AND (breached OR contingency OR path = 'crisis')
ORDER BY contingency DESC, breached DESC, received_at, case_id LIMIT $1"""

_IMPROVEMENTS = """
SELECT k.case_id, k.title, k.lessons, k.at FROM knowledge_articles k JOIN cases c ON c.case_id = k.case_id
WHERE k.at >= $1 AND k.at < $2 AND c.intake_id NOT LIKE 'drill-%'
ORDER BY k.at, k.article_id LIMIT $3"""


def trend_grouping(period: Period, since: datetime, until: datetime) -> tuple[str, datetime]:
    """How the trend charts group, and from when: eight weeks for a weekly report, six months for a
    monthly one, the window itself (by day or week) otherwise."""
    if period in TREND:
        by, back = TREND[period]
        return by, min(since, until - back)
    return ("day" if until - since <= timedelta(days=31) else "week"), since


async def gather(pool: asyncpg.Pool, period: Period, since: datetime, until: datetime, at: datetime,
                 quality: list[TargetResult]) -> ServiceReportData:
    window = MetricsQuery(since=since, until=until)
    metrics = await compute_metrics(pool, window)
    trend_by, trend_since = trend_grouping(period, since, until)
    trend = await compute_metrics(pool, MetricsQuery(since=trend_since, until=until, by=trend_by))
    grouped = {}
    for by in ("category", "severity", "playbook"):
        grouped[by] = (await compute_metrics(pool, window.model_copy(update={"by": by}))).groups if not metrics.empty else []
    async with pool.acquire() as conn:
        slowest = await conn.fetch(_SLOWEST, since, until, max(at, until), LIMIT)
        causes = await conn.fetch(_CAUSES, since, until, LIMIT)
        risks = await conn.fetch(_RISKS, 2 * LIMIT)
        improvements = await conn.fetch(_IMPROVEMENTS, since, until, 2 * LIMIT)
    return ServiceReportData(
        period=period, since=since, until=until, at=at, metrics=metrics, trend_by=trend_by, trend=trend.groups,
        by_category=grouped["category"], by_severity=grouped["severity"], by_playbook=grouped["playbook"],
        slowest=[SlowCase(**dict(r)) for r in slowest], causes=[Cause(**dict(r)) for r in causes],
        risks=[Risk(**dict(r)) for r in risks], improvements=[Improvement(**dict(r)) for r in improvements],
        quality=quality,
    )
