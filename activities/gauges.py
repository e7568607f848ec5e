"""The business gauges behind the intake API's Prometheus `/metrics`: what is open and overdue now.

Real cases only (drills, intake ids `drill-…`, are left out), from the `cases` projection.
"""

from datetime import datetime

import asyncpg
from pydantic import BaseModel, Field

from crisisdesk.models.audit import ENDED_STAGES

# Open: not closed, cancelled or terminated (a case Temporal ended behind crisisdesk's back, once the audit marked it).
OPEN = f"stage NOT IN ({', '.join(repr(s) for s in ENDED_STAGES)}) AND intake_id NOT LIKE 'drill-%'"


class OpenCount(BaseModel):
    stage: str
    severity: str
    cases: int


class BusinessGauges(BaseModel):
    open_cases: list[OpenCount] = Field(default_factory=list)
    breached_now: int = 0
    oldest_overdue_seconds: float = 0.0  # how long the most overdue open deadline is past due; 0: none
    quality_levels: dict[str, str] = Field(default_factory=dict)  # target -> ok, warning, missed, no_data


async def business_gauges(pool: asyncpg.Pool, now: datetime | None = None) -> BusinessGauges:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(f"SELECT stage, coalesce(severity, '(none)') AS severity, count(*) AS cases "
                                f"FROM cases WHERE {OPEN} GROUP BY 1, 2 ORDER BY 1, 2")
        breached = await conn.fetchval(f"SELECT count(*) FROM cases WHERE breached AND {OPEN}")
        overdue = await conn.fetchval(
            f"""SELECT extract(epoch FROM coalesce($1, now()) - min((d->>'due_at')::timestamptz))::float8
                FROM cases c CROSS JOIN LATERAL jsonb_array_elements(coalesce(c.status->'deadlines', '[]'::jsonb)) d
                WHERE {OPEN} AND (d->>'due_at')::timestamptz < coalesce($1, now())""", now)
        levels = await conn.fetch("SELECT target, level FROM quality_target_states ORDER BY target")
    return BusinessGauges(open_cases=[OpenCount(**dict(r)) for r in rows], breached_now=breached,
                          oldest_overdue_seconds=max(overdue or 0.0, 0.0),
                          quality_levels={r["target"]: r["level"] for r in levels})
