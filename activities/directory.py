"""The directory of people in PostgreSQL: add or change, look up, disable. Never deleted."""

import asyncpg
from temporalio import activity

from crisisdesk.models.effects import PeopleCheck, PeopleChecked, StampKeys, StampKeysRequest
from crisisdesk.models.people import Person
from crisisdesk.settings import Settings
from workflows.authority import ELIGIBLE, may_hold

_COLUMNS = "person_id, display_name, roles, service, projects, regions, disabled_at"


async def save_person(conn: asyncpg.Connection | asyncpg.Pool, person: Person) -> Person:
    """Insert the person, or update their name, roles, kind and scope; re-enables a disabled person."""
    row = await conn.fetchrow(
        f"""INSERT INTO people (person_id, display_name, roles, service, projects, regions)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (person_id) DO UPDATE SET display_name = EXCLUDED.display_name,
                roles = EXCLUDED.roles, service = EXCLUDED.service, projects = EXCLUDED.projects,
                regions = EXCLUDED.regions, disabled_at = NULL, updated_at = now()
            RETURNING {_COLUMNS}""",
        person.person_id, person.display_name, person.roles, person.service, person.projects, person.regions,
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


async def unknown_people(conn: asyncpg.Connection | asyncpg.Pool, names: list[str]) -> list[str]:
    """The names that are no active person's id, in the order given."""
    rows = await conn.fetch("SELECT person_id FROM people WHERE person_id = ANY($1) AND disabled_at IS NULL", names)
    known = {r["person_id"] for r in rows}
    return [n for n in names if n not in known]


# The seats a case sheet suggests people for, and how many names each (issue 30).
SUGGESTED_SEATS = ("head", "regional_cs", "cs_owner", "technician", "spokesperson", "monitor")
CANDIDATES_PER_SEAT = 3


async def seat_candidates(conn: asyncpg.Connection | asyncpg.Pool, project_id: str | None = None,
                          region: str | None = None) -> dict[str, list[str]]:
    """Seat -> active people (not service accounts) whose directory roles allow it (workflows.authority), those
    scoped to the case's project or region first, then the unscoped (someone scoped elsewhere does not see
    the case, so is never suggested); at most CANDIDATES_PER_SEAT each."""
    wanted = sorted({role for seat in SUGGESTED_SEATS for role in ELIGIBLE.get(seat, {seat})})
    rows = await conn.fetch(
        """SELECT person_id, roles, projects, regions FROM people
           WHERE disabled_at IS NULL AND NOT service AND roles && $1::text[]
             AND ((cardinality(projects) = 0 AND cardinality(regions) = 0)
                  OR $2::text = ANY(projects) OR $3::text = ANY(regions))
           ORDER BY coalesce($2::text = ANY(projects) OR $3::text = ANY(regions), false) DESC, person_id
           LIMIT 500""", wanted, project_id, region)

    def rank(row) -> int:
        scoped = (project_id and project_id in row["projects"]) or (region and region in row["regions"])
        return 0 if scoped else 1 if not row["projects"] and not row["regions"] else 2

    found: dict[str, list[str]] = {}
    for seat in SUGGESTED_SEATS:
        people = sorted((r for r in rows if may_hold(seat, r["roles"]) and rank(r) < 2), key=rank)
        if people:
            found[seat] = [r["person_id"] for r in people[:CANDIDATES_PER_SEAT]]
    return found


class DirectoryCheck:
    """The case's check that roles and delegations name people from the directory (auth on only)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.settings = pool, settings

    @activity.defn(name="check_people")
    async def check_people(self, req: PeopleCheck) -> PeopleChecked:
        """Whether the people an action names are active in the directory, and their directory roles (which
        seats they may hold): with authentication on only; without it anyone may be named."""
        if self.settings.auth == "none":
            return PeopleChecked()
        rows = await self.pool.fetch("SELECT person_id, roles FROM people WHERE person_id = ANY($1) AND disabled_at IS NULL",
                                     req.names)
        roles = {r["person_id"]: list(r["roles"]) for r in rows}
        return PeopleChecked(unknown=[n for n in req.names if n not in roles], enforced=True, roles=roles)

    @activity.defn(name="stamp_keys")
    async def stamp_keys(self, _req: StampKeysRequest) -> StampKeys:
        """The public keys identity stamps are verified with, and whether authentication is on."""
        return stamp_keys(self.settings)


def stamp_keys(settings: Settings) -> StampKeys:
    signer = settings.stamp_signer()
    return StampKeys(auth_required=settings.auth != "none", keys=signer.public_keys() if signer else {})
