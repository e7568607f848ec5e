"""Project teams and contacts in PostgreSQL: who a role means on a project, and how to reach them."""

import asyncpg

from activities.directory import unknown_people
from crisisdesk.models.rosters import ContactPoint
from crisisdesk.models.teams import Seat, Team
from crisisdesk.sealing import PLAIN, Sealer


class TeamInvalid(ValueError):
    """A team naming someone the directory does not know; says which field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


async def team_for(conn: asyncpg.Connection | asyncpg.Pool, project_id: str | None) -> dict[str, Seat]:
    """The project's team, role → seat (empty for no project or no team)."""
    if not project_id:
        return {}
    rows = await conn.fetch("SELECT role, person_id, roster, deputy_id FROM project_teams WHERE project_id = $1",
                            project_id)
    return {r["role"]: Seat(person=r["person_id"], roster=r["roster"], deputy=r["deputy_id"]) for r in rows}


async def set_team(pool: asyncpg.Pool, project_id: str, team: Team) -> dict[str, Seat]:
    """Replace the project's team as a whole; every person must be active in the directory."""
    async with pool.acquire() as conn, conn.transaction():
        unknown = set(await unknown_people(conn, [person for _, person in team.people()]))
        for field, person in team.people():
            if person in unknown:
                raise TeamInvalid(field, f"{person!r} is not in the directory (`crisis users add` them first)")
        for field, roster in team.rosters():
            if not await conn.fetchval("SELECT 1 FROM rosters WHERE name = $1", roster):
                raise TeamInvalid(field, f"no roster {roster!r} (`crisis oncall set {roster} FILE.json` first)")
        await conn.execute("DELETE FROM project_teams WHERE project_id = $1", project_id)
        await conn.executemany(
            "INSERT INTO project_teams (project_id, role, person_id, roster, deputy_id) VALUES ($1, $2, $3, $4, $5)",
            [(project_id, role, seat.person, seat.roster, seat.deputy) for role, seat in team.seats.items()])
    return team.seats


# A contact is personal data: sealed with the key ring when one is configured (crisisdesk.sealing).
ADDRESS = "person_contacts.address"


async def set_contact(conn: asyncpg.Connection | asyncpg.Pool, person_id: str, email: str,
                      sealer: Sealer = PLAIN) -> None:
    await conn.execute(
        """INSERT INTO person_contacts (person_id, channel, address) VALUES ($1, 'email', $2)
           ON CONFLICT (person_id, channel) DO UPDATE SET address = EXCLUDED.address, updated_at = now()""",
        person_id, sealer.seal(email, ADDRESS))


async def set_contacts(pool: asyncpg.Pool, person_id: str, contacts: list[ContactPoint],
                       sealer: Sealer = PLAIN) -> list[ContactPoint]:
    """Replace the person's channels as a whole, in order of preference (first tried first)."""
    async with pool.acquire() as conn, conn.transaction():
        if await unknown_people(conn, [person_id]):
            raise TeamInvalid("person_id", f"{person_id!r} is not in the directory (`crisis users add` them first)")
        await conn.execute("DELETE FROM person_contacts WHERE person_id = $1", person_id)
        await conn.executemany(
            "INSERT INTO person_contacts (person_id, channel, address, position) VALUES ($1, $2, $3, $4)",
            [(person_id, c.channel, sealer.seal(c.address, ADDRESS), i) for i, c in enumerate(contacts)])
    return contacts


async def contacts_of(conn: asyncpg.Connection | asyncpg.Pool, person_ids: list[str],
                      sealer: Sealer = PLAIN) -> dict[str, list[ContactPoint]]:
    """person id → their channels, preferred first, for the active people among `person_ids`."""
    rows = await conn.fetch(
        """SELECT c.person_id, c.channel, c.address FROM person_contacts c
           JOIN people p ON p.person_id = c.person_id AND p.disabled_at IS NULL
           WHERE c.person_id = ANY($1) ORDER BY c.person_id, c.position, c.channel""", person_ids)
    found: dict[str, list[ContactPoint]] = {}
    for r in rows:
        found.setdefault(r["person_id"], []).append(
            ContactPoint(channel=r["channel"], address=sealer.open(r["address"], ADDRESS)))
    return found


async def reach_of(conn: asyncpg.Connection | asyncpg.Pool, person_ids: list[str],
                   sealer: Sealer = PLAIN) -> dict[str, str]:
    """person id → "Display Name <address>" for the active people with an e-mail contact."""
    rows = await conn.fetch(
        """SELECT p.person_id, p.display_name, c.address FROM people p
           JOIN person_contacts c ON c.person_id = p.person_id AND c.channel = 'email'
           WHERE p.person_id = ANY($1) AND p.disabled_at IS NULL""", person_ids)
    return {r["person_id"]: f"{r['display_name']} <{sealer.open(r['address'], ADDRESS)}>" for r in rows}


async def people_with_role(conn: asyncpg.Connection | asyncpg.Pool, role: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT person_id FROM people WHERE $1 = ANY(roles) AND disabled_at IS NULL AND NOT service ORDER BY person_id",
        role)
    return [r["person_id"] for r in rows]


# -- a project's language and zone (issue 23) ---------------------------------------------------
async def project_settings(conn: asyncpg.Connection | asyncpg.Pool, project_id: str | None) -> dict[str, str | None]:
    """The project's own `locale` and `timezone` (None where it sets none)."""
    row = await conn.fetchrow("SELECT locale, timezone FROM project_settings WHERE project_id = $1",
                              project_id) if project_id else None
    return {"locale": row["locale"] if row else None, "timezone": row["timezone"] if row else None}


async def set_project_settings(pool: asyncpg.Pool, project_id: str, locale: str | None, timezone: str | None) -> dict:
    """Set what is given, keep the rest (values already checked by crisisdesk.i18n)."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO project_settings (project_id, locale, timezone) VALUES ($1, $2, $3)
               ON CONFLICT (project_id) DO UPDATE SET locale = COALESCE($2, project_settings.locale),
                   timezone = COALESCE($3, project_settings.timezone), updated_at = now()""",
            project_id, locale, timezone)
        return await project_settings(conn, project_id)
