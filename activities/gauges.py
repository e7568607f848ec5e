"""The business gauges behind the intake API's Prometheus `/metrics`: what is open and overdue now.

Real cases only (drills, intake ids `drill-…`, are left out). Read from the rollups the `cases`
trigger keeps (migration 010): open cases by stage and severity in 16 shards each, and every open
case's earliest deadline under an index, so a scrape reads a few hundred rows however many cases
there are.
"""

from datetime import datetime

import asyncpg
from pydantic import BaseModel, Field

from crisisdesk.models.audit import ENDED_STAGES

# Open: a real case not closed, cancelled or terminated (a case Temporal ended behind crisisdesk's back,
# once the case audit marked it). The rollups' trigger counts the same cases (migration 010,
# crisis_open_real); tests compare the gauges with a count of `cases` under this condition.
OPEN = f"stage NOT IN ({', '.join(repr(s) for s in ENDED_STAGES)}) AND intake_id NOT LIKE 'drill-%'"


# The case status's `unreached` (roles the last alert reached nobody for): migration 016 indexes exactly this.
UNREACHED = "jsonb_array_length(coalesce(status->'unreached', '[]'::jsonb)) > 0"
UNREACHED_LISTED = 100  # a gauge per case: a label each, at most this many


class OpenCount(BaseModel):
    stage: str
    severity: str
    cases: int


class BusinessGauges(BaseModel):
    open_cases: list[OpenCount] = Field(default_factory=list)
    breached_now: int = 0
    oldest_overdue_seconds: float = 0.0  # how long the most overdue open deadline is past due; 0: none
    quality_levels: dict[str, str] = Field(default_factory=dict)  # target -> ok, warning, missed, no_data
    unreached_cases: list[str] = Field(default_factory=list)  # open cases whose last alert reached nobody (issue 30)


async def business_gauges(pool: asyncpg.Pool, now: datetime | None = None) -> BusinessGauges:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch("""SELECT stage, severity, sum(cases)::bigint AS cases FROM open_case_counts
                                   GROUP BY 1, 2 HAVING sum(cases) <> 0 ORDER BY 1, 2""")
        breached = await conn.fetchval("SELECT coalesce(sum(breached), 0)::bigint FROM open_case_counts")
        overdue = await conn.fetchval(
            """SELECT extract(epoch FROM coalesce($1, now()) - min(earliest_due))::float8 FROM case_due
               HAVING min(earliest_due) < coalesce($1, now())""", now)
        levels = await conn.fetch("SELECT target, level FROM quality_target_states ORDER BY target")
        unreached = await conn.fetch(f"""SELECT case_id FROM cases WHERE {UNREACHED} AND {OPEN}
                                         ORDER BY case_id LIMIT {UNREACHED_LISTED}""")
    return BusinessGauges(open_cases=[OpenCount(**dict(r)) for r in rows], breached_now=breached,
                          oldest_overdue_seconds=max(overdue or 0.0, 0.0),
                          quality_levels={r["target"]: r["level"] for r in levels},
                          unreached_cases=[r["case_id"] for r in unreached])
