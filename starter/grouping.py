"""Group complaints at intake (issue 10, 002 §4.3): many owners report the same leak through different
channels. A new intake that names the same project, category and location as an open case received
within `CRISIS_GROUP_WINDOW` (default 48 h; 0 turns it off) joins that case as one more reporter
(the `link_report` action, channel `intake`) instead of opening a second case and a second alert.
The answer names the existing case with `"joined": true`; `status.reporters` lists the reporters.

Matching reads the `cases` rows (PostgreSQL), which the case writes in the background a moment after
it opens: two reports within that moment still open two cases, which an operator's `link` joins.
Locations match ignoring case and runs of spaces. An intake whose own case exists is never regrouped,
so a repeated intake still answers its own case.
"""

from datetime import datetime, timezone

import asyncpg
from temporalio.client import Client

from activities.db import OUTAGE
from crisisdesk.acting import acting
from crisisdesk.logs import log
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.settings import Settings
from starter import client as cases
from starter.client import StartedCase, promise_for

FINAL_STAGES = ["closed", "cancelled"]


def normal_location(location: str) -> str:
    return " ".join(location.casefold().split())


async def open_match(pool: asyncpg.Pool, intake: Intake, settings: Settings) -> str | None:
    """The open case this intake reports again, if any."""
    if not (intake.project.id and intake.category and intake.location and settings.group_window):
        return None
    own = case_id_for(intake.intake_id)
    since = (intake.received_at or datetime.now(timezone.utc)) - settings.group_window
    async with pool.acquire(timeout=2.0) as conn:
        if await conn.fetchval("SELECT 1 FROM cases WHERE case_id = $1", own):
            return None
        return await conn.fetchval(
            r"""SELECT case_id FROM cases
                WHERE project_id = $1 AND category = $2 AND NOT (stage = ANY($3))
                  AND lower(regexp_replace(btrim(intake->>'location'), '\s+', ' ', 'g')) = $4
                  AND coalesce(received_at, opened_at) >= $5
                ORDER BY coalesce(received_at, opened_at) LIMIT 1""",
            intake.project.id, intake.category.value, FINAL_STAGES, normal_location(intake.location), since)


async def join_open_case(client: Client, pool: asyncpg.Pool | None, intake: Intake, settings: Settings,
                         by: str) -> StartedCase | None:
    """Join the matching open case as a reporter; None when there is none (open a case as usual)."""
    if pool is None or not (intake.project.id and intake.category and intake.location):
        return None
    try:
        case_id = await open_match(pool, intake, settings)
    except (*OUTAGE, asyncpg.PostgresError) as err:  # grouping is a courtesy: it never blocks an intake
        log.warning("group complaint check skipped", intake_id=intake.intake_id, error=type(err).__name__)
        return None
    if case_id is None:
        return None
    payload = {"by": by, "intake_id": intake.intake_id, "channel": intake.channel.value,
               "summary": intake.summary, "location": intake.location,
               "reporter": intake.reporter.model_dump(exclude_none=True)}
    if intake.received_at:
        payload["received_at"] = intake.received_at.isoformat()
    with acting("intake", identity=by):
        await cases.act(client, case_id, "link_report", payload)
    log.info("intake joined an open case", case_id=case_id, intake_id=intake.intake_id)
    severity, level, ack, respond, resolve = promise_for(intake, settings)
    return StartedCase(case_id=case_id, created=False, joined=True, severity=severity, response_level=level,
                       received_at=intake.received_at or datetime.now(timezone.utc), acknowledge_by=ack,
                       respond_by=respond, resolve_by=resolve)
