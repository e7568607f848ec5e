"""Rosters and people's channels over HTTP (issue 10): `PUT/GET /rosters/{name}` (a roster as JSON,
validated: no gap, no overlap, known time zone, people from the directory) and
`PUT/GET /people/{person_id}/contacts` (the person's channels, first preferred)."""

from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from activities.rosters import get_roster, set_roster
from activities.teams import TeamInvalid, contacts_of, set_contacts
from crisisdesk.sealing import PLAIN, Sealer
from crisisdesk.models.actions import describe_validation_error
from crisisdesk.models.rosters import Contacts, Roster
from crisisdesk.permissions import Permission
from starter.auth import require
from starter.routes.projects import invalid


def reach_router(get_pool: Callable[[], Awaitable[asyncpg.Pool]], sealer: Sealer = PLAIN) -> APIRouter:
    router = APIRouter(tags=["reach"])

    @router.put("/rosters/{name}", dependencies=[require(Permission.manage_projects)])
    async def put_roster(name: str, body: Any = Body(..., examples=[{
            "tz": "Asia/Shanghai", "handover": "weekly", "handover_at": "09:00", "starts": "2025-03-03",
            "people": ["li", "zhou"], "overrides": [{"person": "zhou", "start": "2025-03-05T09:00:00+08:00",
                                                     "end": "2025-03-06T09:00:00+08:00"}]}])) -> JSONResponse:
        """Create or replace an on-call roster."""
        try:
            roster = await set_roster(await get_pool(), name, Roster.model_validate(body))
        except ValidationError as err:
            return invalid(["body", "roster"], describe_validation_error(err))
        except TeamInvalid as err:
            return invalid(["body", *err.field.split(".")], str(err))
        return JSONResponse(roster.model_dump(mode="json"))

    @router.get("/rosters/{name}", dependencies=[require(Permission.read_case)])
    async def get_roster_route(name: str, at: datetime | None = Query(None, description="RFC 3339: who is on duty then")
                               ) -> JSONResponse:
        """The roster, and who is on duty at `at` (default now)."""
        roster = await get_roster(await get_pool(), name)
        if roster is None:
            return JSONResponse({"detail": f"no roster named {name!r}"}, status_code=404)
        when = at or datetime.now(timezone.utc)
        if when.tzinfo is None:
            return invalid(["query", "at"], "at: give a time zone offset (e.g. +08:00 or Z)")
        return JSONResponse({"roster": roster.model_dump(mode="json"), "at": when.isoformat(),
                             "on_duty": roster.on_duty(when)})

    @router.put("/people/{person_id}/contacts", dependencies=[require(Permission.manage_users)])
    async def put_contacts(person_id: str, body: Any = Body(..., examples=[[
            {"channel": "wecom", "address": "+8613800000001"}, {"channel": "sms", "address": "+8613800000001"},
            {"channel": "email", "address": "li@example.com"}]])) -> JSONResponse:
        """Replace the person's channels, in the order they prefer them (a JSON list)."""
        try:
            contacts = Contacts.model_validate({"contacts": body} if isinstance(body, list) else body)
            await set_contacts(await get_pool(), person_id, contacts.contacts, sealer)
        except ValidationError as err:
            return invalid(["body", "contacts"], describe_validation_error(err))
        except TeamInvalid as err:
            return invalid(["path", err.field], str(err))
        return JSONResponse({"person_id": person_id, "channels": [c.channel for c in contacts.contacts]})

    @router.get("/people/{person_id}/contacts", dependencies=[require(Permission.manage_users)])
    async def get_contacts(person_id: str) -> JSONResponse:
        found = (await contacts_of(await get_pool(), [person_id], sealer)).get(person_id, [])
        return JSONResponse([c.model_dump() for c in found])

    return router
