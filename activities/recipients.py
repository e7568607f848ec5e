"""Who a notification's roles mean at the moment it is sent (issue 10).

A role the case names a person for goes to that person. Otherwise the project's standing team says
who holds it: a person, or a roster's person on duty at the notification's time (so a reminder after
a hand-over goes to the new person); once an alert has escalated, the seat's deputy is told too.
Then the organisation's defaults (`CRISIS_DEFAULT_TEAM`); a role nobody holds goes to the
directory's `admin` people and is listed as unresolved on the receipt. Never to a role name.
Directory people come with their channels (preferred first) for the personal channels, and are
addressed at their e-mail contact for the broadcast ones. What PostgreSQL said last is kept in the
process, so alerts still find people while it is down.
"""

from dataclasses import dataclass, field

import asyncpg

from activities.db import OUTAGE
from activities.rosters import get_roster
from activities.teams import contacts_of, people_with_role, reach_of, team_for
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.rosters import ContactPoint, Roster
from crisisdesk.models.teams import Seat
from crisisdesk.sealing import Sealer
from crisisdesk.settings import Settings

FALLBACK_ROLE = "admin"
# Recipients who are customers, not staff: addressed by the contact the case gives, never named on the timeline.
CUSTOMER_ROLES = frozenset({"reporter"})


@dataclass
class Target:
    """A directory person to reach, the role they are told as, and their channels (preferred first)."""

    person: str
    role: str
    contacts: list[ContactPoint] = field(default_factory=list)


@dataclass
class Resolution:
    note: Notification  # recipients addressed for the broadcast channels ("Name <address>" or the id)
    people: list[str]  # who they are (directory ids or names as given, never contacts)
    unresolved: list[str]  # roles nobody holds
    targets: list[Target] = field(default_factory=list)  # the directory people among them


class Resolver:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.defaults = pool, settings.default_team
        self.sealer = Sealer.from_settings(settings)
        self.teams: dict[str, dict[str, Seat]] = {}
        self.rosters: dict[str, Roster | None] = {}
        self.contacts: dict[str, str] = {}
        self.channels: dict[str, list[ContactPoint]] = {}
        self.admins: list[str] = []
        self.warned: set[tuple[str | None, str]] = set()

    async def resolve(self, note: Notification) -> tuple[Notification, list[str], list[str]]:
        """The notification addressed to people; who they are (ids or names, never contacts); the
        roles nobody holds."""
        found = await self.resolve_people(note)
        return found.note, found.people, found.unresolved

    async def resolve_people(self, note: Notification) -> Resolution:
        # One wait for PostgreSQL per notification, not one per lookup; `also`: the rest of the team and
        # its rosters, whose contacts are kept too, so an outage after a hand-over still finds the new person.
        state: dict = {"down": False, "also": set()}
        team = await self._cached("team", self.teams.get(note.project_id or "", {}),
                                  lambda conn: team_for(conn, note.project_id), state)
        if note.project_id:
            self.teams[note.project_id] = team
        state["also"].update(p for seat in team.values() for p in (seat.person, seat.deputy) if p)
        targets: list[tuple[str, str]] = []
        unresolved: list[str] = []
        for r in note.recipients:
            seat = team.get(r.role)
            seated = await self._holder(seat, note, state) if seat else None
            holder = r.person or seated
            if holder:
                targets.append((r.role, holder))
                if seat and seat.deputy and note.escalation_level >= 1 and holder == seated and seat.deputy != holder:
                    targets.append((r.role, seat.deputy))  # escalated: the team's deputy is told too
            elif r.role in self.defaults:
                targets.append((r.role, self.defaults[r.role]))
            else:
                unresolved.append(r.role)
        if unresolved:
            self.admins = await self._cached("admins", self.admins,
                                             lambda conn: people_with_role(conn, FALLBACK_ROLE), state)
            targets += [(FALLBACK_ROLE, admin) for admin in self.admins]
        # Who was told, as the timeline may say it: directory ids, and the reporter by their role (their name and
        # contact live only in the sealed register, issue 21).
        people = list(dict.fromkeys(role if role in CUSTOMER_ROLES else person for role, person in targets))
        wanted = list(dict.fromkeys([*(person for role, person in targets if role not in CUSTOMER_ROLES),
                                     *sorted(state["also"])]))
        known = await self._cached("contacts", {}, lambda conn: reach_of(conn, wanted, self.sealer), state)
        self.contacts.update(known)
        channels = await self._cached("channels", None, lambda conn: contacts_of(conn, wanted, self.sealer), state)
        if channels is not None:  # a fresh answer: people without contacts have none now
            self.channels.update({p: channels.get(p, []) for p in wanted})
        recipients, reach, seen = [], [], set()
        for role, person in targets:
            if person not in seen:
                seen.add(person)
                recipients.append(Recipient(role=role, person=self.contacts.get(person, person)))
                if self.channels.get(person):
                    reach.append(Target(person, role, self.channels[person]))
        new = [role for role in unresolved if (note.project_id, role) not in self.warned]
        if new:  # once per project and role in this process: the receipts say it every time
            self.warned.update((note.project_id, role) for role in new)
            log.warning("roles nobody holds", case_id=note.case_id, project_id=note.project_id, roles=new,
                        fallback=len(self.admins))
        return Resolution(note.model_copy(update={"recipients": recipients}), people, unresolved, reach)

    async def _holder(self, seat: Seat, note: Notification, state: dict) -> str | None:
        """The seat's person, or its roster's person on duty when the notification is sent."""
        if seat.person or not seat.roster:
            return seat.person
        name = seat.roster
        roster = await self._cached("roster", self.rosters.get(name), lambda conn: get_roster(conn, name), state)
        self.rosters[name] = roster
        if roster:
            state["also"].update(roster.everyone())
        return roster.on_duty(note.at) if roster else None

    async def _cached(self, what: str, last, query, state: dict):
        if state["down"]:
            return last
        try:
            async with self.pool.acquire(timeout=2.0) as conn:
                return await query(conn)
        except OUTAGE as err:
            state["down"] = True
            log.warning("directory unreachable, using what it said last", what=what, error=type(err).__name__)
            return last
