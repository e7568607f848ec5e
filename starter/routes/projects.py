"""Project teams over HTTP: `PUT /projects/{project_id}/team` (role → person, or role → {person,
deputy}) and `GET`. A case of the project fills its roles from the team at intake."""

from typing import Any, Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from activities.teams import set_project_settings, TeamInvalid, set_team, team_for
from crisisdesk import i18n
from crisisdesk.models.actions import describe_validation_error
from crisisdesk.models.teams import Team
from crisisdesk.permissions import Permission
from starter.auth import Principal, require


def projects_router(get_pool: Callable[[], Awaitable[asyncpg.Pool]]) -> APIRouter:
    router = APIRouter(prefix="/projects", tags=["projects"])

    @router.put("/{project_id}/team", dependencies=[require(Permission.manage_projects)])
    async def put_team(project_id: str, body: Any = Body(..., examples=[{"head": "wang", "regional_cs": {
            "person": "li", "deputy": "zhou"}}])) -> JSONResponse:
        """Replace the project's standing team; every person must be in the directory."""
        try:
            team = Team.model_validate(body)
            seats = await set_team(await get_pool(), project_id, team)
        except ValidationError as err:
            return invalid(["body", "team"], describe_validation_error(err))
        except TeamInvalid as err:
            return invalid(["body", *err.field.split(".")], str(err))
        return JSONResponse({role: seat.model_dump(exclude_none=True) for role, seat in seats.items()})

    @router.put("/{project_id}", dependencies=[require(Permission.manage_projects)])
    async def put_project(project_id: str, body: Any = Body(..., examples=[{"locale": "zh-CN", "timezone": "Asia/Shanghai"}])) -> JSONResponse:
        """The project's language and time zone (issue 23): `locale` (en, zh-CN) and `timezone` (IANA)."""
        if not isinstance(body, dict) or not set(body) <= {"locale", "timezone"} or not body:
            return invalid(["body"], "send an object with locale and/or timezone")
        try:
            locale = i18n.check_locale(body.get("locale"), "locale")
            zone = i18n.check_timezone(body.get("timezone"), "timezone")
        except ValueError as err:
            field = str(err).split(":", 1)[0]
            return invalid(["body", field], str(err))
        saved = await set_project_settings(await get_pool(), project_id, locale, zone)
        return JSONResponse({"project_id": project_id, **saved})

    @router.get("/{project_id}/team")
    async def get_team(project_id: str, who: Principal = require(Permission.read_case)) -> JSONResponse:
        """The project's standing team; a project outside the caller's scope has none to show (404)."""
        if not who.every_case and project_id not in who.projects:
            return JSONResponse({"detail": f"project {project_id[:100]!r} has no team you may see"}, status_code=404)
        seats = await team_for(await get_pool(), project_id)
        return JSONResponse({role: seat.model_dump(exclude_none=True) for role, seat in seats.items()})

    return router


def invalid(loc: list[str], message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": message, "type": "value_error"}], "message": message},
                        status_code=422)
