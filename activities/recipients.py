"""Who a notification's roles mean at the moment it is sent (issue 10).

A role the case names a person for goes to that person. Otherwise the project's standing team says
who holds it (and, once an alert has escalated, their deputy too), then the organisation's
defaults (`CRISIS_DEFAULT_TEAM`); a role nobody holds goes to the directory's `admin` people and is
listed as unresolved on the receipt. Never to a role name. Directory people are reached at their
contact. What PostgreSQL said last is kept in the process, so alerts still find people while it
is down.
"""

import asyncpg

from activities.db import OUTAGE
from activities.teams import people_with_role, reach_of, team_for
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.teams import Seat
from crisisdesk.settings import Settings

FALLBACK_ROLE = "admin"


class Resolver:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.defaults = pool, settings.default_team
        self.teams: dict[str, dict[str, Seat]] = {}
        self.contacts: dict[str, str] = {}
        self.admins: list[str] = []
        self.warned: set[tuple[str | None, str]] = set()

    async def resolve(self, note: Notification) -> tuple[Notification, list[str], list[str]]:
        """The notification addressed to people; who they are (ids or names, never contacts); the
        roles nobody holds."""
        team = await self._cached("team", self.teams.get(note.project_id or "", {}),
                                  lambda conn: team_for(conn, note.project_id))
        if note.project_id:
            self.teams[note.project_id] = team
        targets: list[tuple[str, str]] = []
        unresolved: list[str] = []
        for r in note.recipients:
            seat = team.get(r.role)
            if r.person or seat is not None:
                targets.append((r.role, r.person or seat.person))
                if seat and seat.deputy and note.escalation_level >= 1 and (r.person or seat.person) == seat.person:
                    targets.append((r.role, seat.deputy))  # escalated: the team's deputy is told too
            elif r.role in self.defaults:
                targets.append((r.role, self.defaults[r.role]))
            else:
                unresolved.append(r.role)
        if unresolved:
            self.admins = await self._cached("admins", self.admins, lambda conn: people_with_role(conn, FALLBACK_ROLE))
            targets += [(FALLBACK_ROLE, admin) for admin in self.admins]
        people = list(dict.fromkeys(person for _, person in targets))
        known = await self._cached("contacts", {}, lambda conn: reach_of(conn, people))
        self.contacts.update(known)
        recipients, seen = [], set()
        for role, person in targets:
            if person not in seen:
                seen.add(person)
                recipients.append(Recipient(role=role, person=self.contacts.get(person, person)))
        new = [role for role in unresolved if (note.project_id, role) not in self.warned]
        if new:  # once per project and role in this process: the receipts say it every time
            self.warned.update((note.project_id, role) for role in new)
            log.warning("roles nobody holds", case_id=note.case_id, project_id=note.project_id, roles=new,
                        fallback=len(self.admins))
        return note.model_copy(update={"recipients": recipients}), people, unresolved

    async def _cached(self, what: str, last, query):
        try:
            async with self.pool.acquire(timeout=2.0) as conn:
                return await query(conn)
        except OUTAGE as err:
            log.warning("directory unreachable, using what it said last", what=what, error=type(err).__name__)
            return last
