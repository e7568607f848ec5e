"""Retention and erasure of personal data (issue 9, 000 §十四): the case record stays whole, what
identifies people goes. Each run is written to `privacy_log` (who, what, how many rows), never the data."""

import asyncpg

from activities.records import purge_personal_data
from crisisdesk.logs import log

PERSONAL = "name = NULL, contact = NULL, unit = NULL, employer = NULL, household = NULL, intermediary = NULL, concerns = NULL"


async def purge_closed(pool: asyncpg.Pool, older_than_days: float, by: str) -> dict[str, int]:
    """Erase the personal data of every case closed or cancelled more than `older_than_days` ago."""
    case_ids = [r["case_id"] for r in await pool.fetch(
        """SELECT case_id FROM cases WHERE stage IN ('closed', 'cancelled')
           AND updated_at < now() - make_interval(secs => $1)""", older_than_days * 86400)]
    totals = {"cases": len(case_ids), "stakeholders": 0, "notifications": 0, "survey_responses": 0}
    for case_id in case_ids:
        for table, n in (await purge_personal_data(pool, case_id)).items():
            totals[table] += n
    await _logged(pool, "purge", by, {"older_than_days": older_than_days, **totals})
    return totals


async def erase_person(pool: asyncpg.Pool, name: str, by: str) -> dict[str, int]:
    """An erasure request: every stakeholder or reporter row naming this person, in any case."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.execute(
            f"UPDATE stakeholders SET {PERSONAL}, purged_at = now() WHERE name = $1 OR contact = $1", name)
    counts = {"stakeholders": int(rows.split()[-1])}
    await _logged(pool, "erase", by, counts)  # not the name: the log must not keep what it erased
    return counts


async def _logged(pool: asyncpg.Pool, kind: str, by: str, detail: dict) -> None:
    await pool.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ($1, $2, $3)", kind, by, detail)
    log.info("personal data erased", kind=kind, by=by, **{k: v for k, v in detail.items() if isinstance(v, int | float)})
