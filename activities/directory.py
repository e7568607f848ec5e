"""The directory of people in PostgreSQL: add or change, look up, disable. Never deleted."""

import asyncpg

from crisisdesk.models.people import Person

_COLUMNS = "person_id, display_name, roles, service, disabled_at"


async def save_person(conn: asyncpg.Connection | asyncpg.Pool, person: Person) -> Person:
    """Insert the person, or update their name, roles and kind; re-enables a disabled person."""
    row = await conn.fetchrow(
        f"""INSERT INTO people (person_id, display_name, roles, service) VALUES ($1, $2, $3, $4)
            ON CONFLICT (person_id) DO UPDATE SET display_name = EXCLUDED.display_name,
                roles = EXCLUDED.roles, service = EXCLUDED.service, disabled_at = NULL, updated_at = now()
            RETURNING {_COLUMNS}""",
        person.person_id, person.display_name, person.roles, person.service,
    )
    return Person(**dict(row))


async def get_person(conn: asyncpg.Connection | asyncpg.Pool, person_id: str) -> Person | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM people WHERE person_id = $1", person_id)
    return Person(**dict(row)) if row else None


async def list_people(conn: asyncpg.Connection | asyncpg.Pool, include_disabled: bool = False) -> list[Person]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM people WHERE $1 OR disabled_at IS NULL ORDER BY person_id", include_disabled)
    return [Person(**dict(r)) for r in rows]


async def disable_person(conn: asyncpg.Connection | asyncpg.Pool, person_id: str) -> bool:
    """True when an active person was disabled now."""
    result = await conn.execute(
        "UPDATE people SET disabled_at = now(), updated_at = now() WHERE person_id = $1 AND disabled_at IS NULL",
        person_id)
    return result.endswith(" 1")
