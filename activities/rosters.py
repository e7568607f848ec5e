"""On-call rosters in PostgreSQL: stored whole, as validated JSON, and read when an alert is sent."""

import asyncpg

from activities.directory import unknown_people
from activities.teams import TeamInvalid
from crisisdesk.models.rosters import Roster


async def get_roster(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> Roster | None:
    spec = await conn.fetchval("SELECT spec FROM rosters WHERE name = $1", name)  # the pool decodes jsonb
    return Roster.model_validate(spec) if spec is not None else None


async def roster_names(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM rosters ORDER BY name")]


async def set_roster(pool: asyncpg.Pool, name: str, roster: Roster) -> Roster:
    """Create or replace a roster; everyone it names must be active in the directory."""
    if not name or len(name) > 200:
        raise TeamInvalid("name", "must be 1 to 200 characters")
    async with pool.acquire() as conn, conn.transaction():
        unknown = set(await unknown_people(conn, roster.everyone()))
        for field, person in roster.people_fields():
            if person in unknown:
                raise TeamInvalid(field, f"{person!r} is not in the directory (`crisis users add` them first)")
        await conn.execute(
            """INSERT INTO rosters (name, spec) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()""",
            name, roster.model_dump(mode="json"))
    return roster
