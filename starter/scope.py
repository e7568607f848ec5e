"""Access scoped to the caller's projects and regions (issue 21, docs/access.md "Scope").

A person's directory entry lists the projects and regions whose cases they see; admins and managers
see every case, and so does the local user of `CRISIS_AUTH=none`. Every case route asks `check(...)`
before it reads or sends anything: a case outside the caller's scope is answered exactly as a case
that does not exist (404, the same sentence), so its existence is not revealed. Lists (`crisis
stuck`) are narrowed with `visibility_clause(...)`.

Where a case belongs is its intake's project and region, which never change: asked of Temporal (the
case's search attributes, or the intake in its first event while it opens) or of PostgreSQL (a case
Temporal no longer holds) once per case, and kept.
"""

from collections import OrderedDict
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from crisisdesk.logs import log
from crisisdesk.names import SA_PROJECT, SA_REGION, SA_STAGE
from starter.auth import Principal
from starter.client import CaseNotFound, _unavailable, case_ref, original_intake

Place = tuple[str | None, str | None]  # (project id, region)


class CasePlaces:
    """The project and region of each case asked about, kept for the process (at most `size` cases)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.known: OrderedDict[str, Place] = OrderedDict()

    async def of(self, client: Client, case_id: str, pool: Any | None = None) -> Place:
        """(project, region) of the case, or CaseNotFound."""
        case_id = case_ref(case_id)
        if case_id in self.known:
            self.known.move_to_end(case_id)
            return self.known[case_id]
        place, final = await _from_temporal(client, case_id)
        if place is None and pool is not None:
            place, final = await _from_record(pool, case_id), True
        if place is None:
            raise CaseNotFound(case_id)
        if final:
            self.known[case_id] = place
            while len(self.known) > self.size:
                self.known.popitem(last=False)
        return place

    async def check(self, who: Principal, client: Client, case_id: str, pool: Any | None = None) -> None:
        """Nothing when the caller may see the case; CaseNotFound (as for no case at all) otherwise."""
        if who.every_case:
            return
        project, region = await self.of(client, case_id, pool)
        if not who.sees(project, region):
            log.info("case outside the caller's scope", case_id=case_ref(case_id), person=who.person_id)
            raise CaseNotFound(case_ref(case_id))


def check_place(who: Principal, case_id: str, project: dict[str, Any] | None) -> None:
    """The same check from a case's own status (its `project`), with no question asked."""
    project = project or {}
    if not who.sees(project.get("id"), project.get("region")):
        log.info("case outside the caller's scope", case_id=case_id, person=who.person_id)
        raise CaseNotFound(case_id)


async def _from_temporal(client: Client, case_id: str) -> tuple[Place | None, bool]:
    handle = client.get_workflow_handle(case_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None, False
        raise _unavailable(err) from err
    attributes = desc.typed_search_attributes
    if attributes.get(SA_STAGE) is not None:  # the case has published itself: its project is there, or none
        return (attributes.get(SA_PROJECT), attributes.get(SA_REGION)), True
    intake = await original_intake(handle, client)  # still opening: what it was started with
    if intake is None:
        return (None, None), False
    return (intake.project.id, intake.project.region), True


async def _from_record(pool: Any, case_id: str) -> Place | None:
    row = await pool.fetchrow("SELECT project_id, region FROM cases WHERE case_id = $1", case_id)
    return (row["project_id"], row["region"]) if row else None


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values if not any(c in v for c in "'\"\\"))


def visibility_clause(who: Principal) -> str | None:
    """The visibility query that keeps a list to the caller's cases: None for every case, "" for none."""
    if who.every_case:
        return None
    parts = []
    if projects := _quoted(who.projects):
        parts.append(f"{SA_PROJECT.name} IN ({projects})")
    if regions := _quoted(who.regions):
        parts.append(f"{SA_REGION.name} IN ({regions})")
    return " OR ".join(parts)
