"""Personal API tokens: issued once, stored as a hash, checked against the directory on every use.

A token reads `cdk_<token id>_<secret>`: the id (16 hex digits) is public and names the row, the
secret (32 random bytes, URL-safe base64) is known only to its holder; the table keeps its SHA-256.
A plain hash is enough for a secret of 256 random bits (a slow password hash protects guessable
passwords, which these are not) and keeps a check to one indexed read.

A token works while it is neither expired nor revoked, and its person is active in the directory:
disabling a person stops every token they hold at once.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from crisisdesk.models.people import Person

PREFIX = "cdk"
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


class CredentialRefused(Exception):
    """Why a credential was not accepted: one line, never the credential itself."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    person_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX + "_")


async def issue_token(conn: asyncpg.Connection | asyncpg.Pool, person_id: str,
                      expires_in: timedelta | None) -> tuple[str, TokenInfo]:
    """A new token for an existing person: (the token, shown once; what is stored about it)."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        """INSERT INTO api_tokens (token_id, person_id, secret_hash, expires_at)
           VALUES ($1, $2, $3, CASE WHEN $4::interval IS NULL THEN NULL ELSE now() + $4::interval END)
           RETURNING token_id, person_id, created_at, expires_at, revoked_at, last_used_at""",
        token_id, person_id, _hash(secret), expires_in)
    return f"{PREFIX}_{token_id}_{secret}", TokenInfo(**dict(row))


async def verify_token(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Person:
    """The active person the token belongs to, or CredentialRefused saying why."""
    match = _TOKEN.match(token)
    if match is None:
        raise CredentialRefused("malformed token: expected cdk_<id>_<secret> as printed by `crisis users add`")
    token_id, secret = match.groups()
    row = await conn.fetchrow(
        """SELECT t.secret_hash, t.expires_at, t.revoked_at, t.expires_at <= now() AS expired,
                  p.person_id, p.display_name, p.roles, p.service, p.projects, p.regions, p.disabled_at
           FROM api_tokens t JOIN people p USING (person_id) WHERE t.token_id = $1""", token_id)
    # The hash is compared even for an unknown id, so timing tells nothing about which ids exist.
    stored = row["secret_hash"] if row else "0" * 64
    if not hmac.compare_digest(stored, _hash(secret)) or row is None:
        raise CredentialRefused(f"token {token_id} is not valid: unknown or forged")
    if row["revoked_at"] is not None:
        raise CredentialRefused(f"token {token_id} was revoked at {row['revoked_at'].isoformat(timespec='seconds')}")
    if row["expired"]:
        raise CredentialRefused(f"token {token_id} expired at {row['expires_at'].isoformat(timespec='seconds')}")
    if row["disabled_at"] is not None:
        raise CredentialRefused(f"token {token_id}: {row['person_id']} is disabled in the directory")
    await conn.execute(  # at most one write an hour per token: enough to spot unused tokens
        """UPDATE api_tokens SET last_used_at = now()
           WHERE token_id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour')""", token_id)
    return Person(person_id=row["person_id"], display_name=row["display_name"], roles=row["roles"],
                  service=row["service"], projects=row["projects"], regions=row["regions"], disabled_at=None)


async def revoke_tokens(conn: asyncpg.Connection | asyncpg.Pool, person_id: str) -> int:
    """Revoke every live token of the person; the number revoked now."""
    result = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE person_id = $1 AND revoked_at IS NULL", person_id)
    return int(result.split()[-1])


async def list_tokens(conn: asyncpg.Connection | asyncpg.Pool) -> list[TokenInfo]:
    rows = await conn.fetch(
        """SELECT token_id, person_id, created_at, expires_at, revoked_at, last_used_at
           FROM api_tokens ORDER BY person_id, created_at""")
    return [TokenInfo(**dict(r)) for r in rows]
