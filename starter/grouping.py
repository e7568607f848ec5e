"""Group complaints at intake (issues 10 and 27, 002 §4.3): many owners report the same leak through
different channels. A new intake of the same project and category as an open case received within
`CRISIS_GROUP_WINDOW` (default 48 h; 0 turns it off; a playbook's `grouping.window` overrides it), at
the same place, joins that case as one more reporter (the `link_report` action, channel `intake`)
instead of opening a second case and a second alert. The same place is, by default, the same building
(or, where neither report names a building, the same delivery batch), read from `location` or the
intake's structured `unit` (`crisisdesk.location`): owners of 3栋2单元201 and "Building 3, unit 1502"
report one leak. A playbook's `grouping.match` sets the threshold: `location` (the same words),
`entrance`, `building`, `project`. A location nobody can read is compared word for word.
The answer names the existing case with `"joined": true`; `status.reporters` lists the reporters.
`crisis case link` / `unlink` correct a match the matcher missed or made wrongly.

Matching reads the `cases` rows (PostgreSQL), which the case writes in the background a moment after
it opens: two reports within that moment still open two cases, which an operator's `link` joins.
Words match ignoring case and runs of spaces. An intake whose own case exists is never regrouped,
so a repeated intake still answers its own case.
"""

from datetime import datetime, timezone

import asyncpg
from temporalio.client import Client

from activities.db import OUTAGE
from crisisdesk.acting import acting
from crisisdesk.location import Place, place_of, same_place
from crisisdesk.logs import log
from crisisdesk.models.audit import ENDED_STAGES
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.playbooks import PlaybookError, load_playbook
from crisisdesk.settings import Settings
from starter import client as cases
from starter.client import StartedCase, promise_for

FINAL_STAGES = list(ENDED_STAGES)  # a terminated case takes no new reporters either


def normal_location(location: str) -> str:
    return " ".join(location.casefold().split())


async def open_match(pool: asyncpg.Pool, intake: Intake, settings: Settings) -> str | None:
    """The open case this intake reports again, if any: the same project and category, received within the
    window, at the same place as the intake's playbook `grouping.match` asks (its building, by default)."""
    if not (intake.project.id and intake.category and settings.group_window):
        return None
    try:
        grouping = load_playbook(intake.playbook or settings.playbook, settings.playbook_dir).group_match
    except PlaybookError:
        return None  # the intake is refused for it when its case starts
    place = place_of(intake.location, intake.unit)
    if grouping.match != "project" and not (place.known or intake.location):
        return None
    own = case_id_for(intake.intake_id)
    since = (intake.received_at or datetime.now(timezone.utc)) - (grouping.window or settings.group_window)
    async with pool.acquire(timeout=2.0) as conn:
        if await conn.fetchval("SELECT 1 FROM cases WHERE case_id = $1", own):
            return None
        candidates = await conn.fetch(
            """SELECT case_id, intake->>'location' AS location, intake->>'unit' AS unit FROM cases
               WHERE project_id = $1 AND category = $2 AND NOT (stage = ANY($3)) AND coalesce(received_at, opened_at) >= $4
               ORDER BY coalesce(received_at, opened_at)""",
            intake.project.id, intake.category.value, FINAL_STAGES, since)
    for row in candidates:
        if matches(intake, place, row["location"], place_of(row["location"], row["unit"]), grouping.match):
            return row["case_id"]
    return None


def matches(intake: Intake, place: Place, location: str | None, other: Place, match: str) -> bool:
    """Places compared at the playbook's level; where either cannot be read, the same words (as before)."""
    if match == "project":
        return True
    if match == "location" or not (place.known and other.known):
        return bool(intake.location and location) and normal_location(intake.location) == normal_location(location)
    return same_place(place, other, match)


async def join_open_case(client: Client, pool: asyncpg.Pool | None, intake: Intake, settings: Settings,
                         by: str) -> StartedCase | None:
    """Join the matching open case as a reporter; None when there is none (open a case as usual)."""
    if pool is None or not (intake.project.id and intake.category):
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
