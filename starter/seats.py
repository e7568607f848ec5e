"""Who may name the people of a case at the door: an intake's `roles` (issue 20).

A case's seats follow the directory and the head (workflows.authority); an intake that names them
does so before any head is seated, so the intake API checks it the same way: only a caller who
manages projects names roles, and only people from the directory whose roles allow each seat.
"""

import asyncpg

from crisisdesk.permissions import Permission
from starter.auth import Principal
from workflows.authority import eligible_for, may_hold


async def intake_roles_problem(who: Principal, roles: dict[str, str], pool: asyncpg.Pool | None) -> tuple[int, str] | None:
    """(status, one line) when the caller may not seat these people; None when they may. `pool` is None
    without authentication (no directory: the local user seats anyone)."""
    if who.service or not who.can(Permission.manage_projects):
        why = "a service account" if who.service else f"{who.person_id} (no projects:manage)"
        return 403, (f"roles: {why} may not name who holds a case's roles; leave roles out (the project's team "
                     "seats the case) or ask someone who manages the project")
    if pool is None:
        return None
    people = sorted(set(roles.values()))
    rows = await pool.fetch("SELECT person_id, roles FROM people WHERE person_id = ANY($1) AND disabled_at IS NULL", people)
    directory = {r["person_id"]: list(r["roles"]) for r in rows}
    for role, person in roles.items():
        if person not in directory:
            return 422, f"roles.{role}: {person!r} is not an active person in the directory (`crisis users add`)"
        if not may_hold(role, directory[person]):
            return 422, f"roles.{role}: {person!r} may not hold the {role} seat (directory roles need {eligible_for(role)})"
    return None
