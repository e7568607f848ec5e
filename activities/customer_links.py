"""Customer links in PostgreSQL (`customer_links`, migration 014): issue one per case and reporter,
say whether a link still stands, revoke. The token is rebuilt from the row and the secret, so the
same reporter gets the same link in every message until it is revoked or expires."""

import secrets
from datetime import datetime, timezone

import asyncpg

from crisisdesk.customerlinks import LinkClaim, LinkRefused, make_token
from crisisdesk.settings import Settings


class LinksOff(RuntimeError):
    """Customer links need a secret: CRISIS_CUSTOMER_SECRET or CRISIS_STAMP_KEY."""


def _secret(settings: Settings) -> bytes:
    secret = settings.customer_link_secret()
    if secret is None:
        raise LinksOff("customer links are off: set CRISIS_CUSTOMER_SECRET (or CRISIS_STAMP_KEY)")
    return secret


async def issue(pool: asyncpg.Pool, settings: Settings, case_id: str, reporter: str, fresh: bool = False) -> str:
    """The reporter's standing link (a new one when there is none, it expired, or `fresh` asks to replace it)."""
    secret = _secret(settings)
    now = datetime.now(timezone.utc)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"customer-link:{case_id}:{reporter}")
        row = await conn.fetchrow(
            "SELECT link_id, expires_at FROM customer_links WHERE case_id = $1 AND reporter = $2 AND revoked_at IS NULL",
            case_id, reporter)
        if row is not None and (fresh or row["expires_at"] <= now):
            await conn.execute("UPDATE customer_links SET revoked_at = now() WHERE link_id = $1", row["link_id"])
            row = None
        if row is None:
            row = await conn.fetchrow(
                """INSERT INTO customer_links (link_id, case_id, reporter, expires_at) VALUES ($1, $2, $3, $4)
                   RETURNING link_id, expires_at""",
                secrets.token_hex(12), case_id, reporter, now + settings.customer_link_ttl)
    return f"{settings.link_base_url()}/c/{make_token(secret, case_id, reporter, row['link_id'], row['expires_at'])}"


async def standing(pool: asyncpg.Pool, claim: LinkClaim) -> None:
    """Pass when the link is on record and not revoked; LinkRefused (404, 410) otherwise."""
    row = await pool.fetchrow("SELECT case_id, reporter, revoked_at FROM customer_links WHERE link_id = $1",
                              claim.link_id)
    if row is None or row["case_id"] != claim.case_id or row["reporter"] != claim.reporter:
        raise LinkRefused(404, "unknown", "there is no such link: ask customer service for yours")
    if row["revoked_at"] is not None:
        raise LinkRefused(410, "revoked", "this link no longer works: ask customer service for a new one")


async def revoke(pool: asyncpg.Pool, case_id: str, reporter: str | None = None) -> int:
    """Revoke the case's standing links (one reporter's, or all); returns how many."""
    result = await pool.execute(
        """UPDATE customer_links SET revoked_at = now()
           WHERE case_id = $1 AND ($2::text IS NULL OR reporter = $2) AND revoked_at IS NULL""", case_id, reporter)
    return int(result.split()[-1])


def secret_of(settings: Settings) -> bytes:
    return _secret(settings)
