"""Legal holds (issue 27): a case under hold keeps its records whole. Retention skips it and an erasure
request that reaches it is refused, each with a message naming the hold, until the hold is released.
Placing and releasing are written to `privacy_log` (who, which case, never more)."""

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from crisisdesk.logs import log


class LegalHold(BaseModel):
    hold_id: int
    case_id: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None

    def describe(self) -> str:
        """`legal hold #3 on crisis-X since 2026-05-01 by legal: court order 17`: what a refusal names."""
        return (f"legal hold #{self.hold_id} on {self.case_id} since {self.placed_at:%Y-%m-%d} by {self.placed_by}: "
                f"{self.reason}")


class UnderHold(Exception):
    """Something would change a case under legal hold; the message names each hold."""

    def __init__(self, holds: list[LegalHold], what: str) -> None:
        super().__init__(f"{what} refused: {'; '.join(h.describe() for h in holds)} "
                         f"(release it with `crisis case release CASE` once the hold ends)")
        self.holds = holds


async def active_holds(conn: asyncpg.Connection | asyncpg.Pool, case_ids: list[str] | None = None) -> dict[str, LegalHold]:
    """Active holds by case (of these cases, or all)."""
    rows = await conn.fetch(
        """SELECT * FROM legal_holds WHERE released_at IS NULL AND ($1::text[] IS NULL OR case_id = ANY($1))
           ORDER BY hold_id""", case_ids)
    return {r["case_id"]: LegalHold(**dict(r)) for r in rows}


async def place_hold(pool: asyncpg.Pool, case_id: str, reason: str, by: str) -> tuple[LegalHold, bool]:
    """The case's hold and whether it is new (a case already under hold keeps the hold it has)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("--reason: say why the records must be kept (a court order, a claim, a regulator's request)")
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM cases WHERE case_id = $1", case_id):
            raise LookupError(f"case {case_id} is not on the record: check the id (crisis-<intake_id>)")
        row = await conn.fetchrow(
            """INSERT INTO legal_holds (case_id, reason, placed_by) VALUES ($1, $2, $3)
               ON CONFLICT (case_id) WHERE released_at IS NULL DO NOTHING RETURNING *""", case_id, reason[:1000], by)
        created = row is not None
        if not created:
            row = await conn.fetchrow("SELECT * FROM legal_holds WHERE case_id = $1 AND released_at IS NULL", case_id)
        else:
            await conn.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ('hold', $1, $2)",
                               by, {"case_id": case_id, "hold_id": row["hold_id"]})
    log.info("legal hold placed" if created else "legal hold already in place", case_id=case_id, hold_id=row["hold_id"])
    return LegalHold(**dict(row)), created


async def release_hold(pool: asyncpg.Pool, case_id: str, by: str) -> LegalHold:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE legal_holds SET released_by = $2, released_at = now()
               WHERE case_id = $1 AND released_at IS NULL RETURNING *""", case_id, by)
        if row is None:
            raise LookupError(f"case {case_id} is not under legal hold")
        await conn.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ('release', $1, $2)",
                           by, {"case_id": case_id, "hold_id": row["hold_id"]})
    log.info("legal hold released", case_id=case_id, hold_id=row["hold_id"])
    return LegalHold(**dict(row))
