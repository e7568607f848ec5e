"""Records a manager can hand over (issue 27): the stakeholder register, evidence with custody, the case
bundle. The work is in `starter.handover`, shared with `crisis case …` and `crisis evidence get`."""

import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from temporalio.client import Client

from activities.register import Register, register_csv
from crisisdesk.permissions import Permission
from crisisdesk.settings import Settings
from starter import client as cases, handover
from starter.auth import Principal, require


def records_router(settings: Settings, get_pool: Callable[[], Awaitable[asyncpg.Pool]],
                   get_client: Callable[[], Awaitable[Client]]) -> APIRouter:
    router = APIRouter(tags=["records"])

    async def records() -> asyncpg.Pool:
        pool = await get_pool()
        if pool is None:
            raise HTTPException(503, "DATABASE_URL is not set: the register, evidence and bundles live in PostgreSQL")
        return pool

    async def client_if_up() -> Client | None:
        try:
            return await get_client()
        except cases.TemporalUnavailable:  # a bundle of PostgreSQL's record is still a bundle
            return None

    @router.get("/cases/{case_id}/stakeholders", response_model=Register,
                responses={200: {"content": {"text/csv": {}}}, 404: {"description": "unknown case"}})
    async def get_stakeholders(case_id: str, reason: str | None = Query(None, max_length=500, description="why you read it (kept in privacy_log)"),
                               format: Literal["json", "csv"] = Query("json", description="csv: one row per person"),
                               who: Principal = require(Permission.read_personal)) -> Response:
        """The case's stakeholder register, segmented as 002 §4.3.4 lists them (units, employers, households,
        intermediaries, key contacts, positions); each read is written to `privacy_log` with who and why."""
        register = await handover.stakeholders(await records(), settings, who, case_id, reason, "http")
        if format == "csv":
            return Response(register_csv(register), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{register.case_id}-stakeholders.csv"'})
        return Response(register.model_dump_json(), media_type="application/json")

    @router.get("/cases/{case_id}/evidence/{sha256}",
                responses={200: {"content": {"application/octet-stream": {}}, "description": "the file, byte for byte"},
                           404: {"description": "the case holds no evidence with that SHA-256"},
                           409: {"description": "the stored file no longer matches its SHA-256 (admins are told)"}})
    async def get_evidence(case_id: str, sha256: str = Path(..., pattern="^[0-9a-fA-F]{64}$"),
                           reason: str | None = Query(None, max_length=500, description="why (on the custody trail)"),
                           by: str | None = Query(None, max_length=200, description="who reads (default: the caller)"),
                           who: Principal = require(Permission.read_case)) -> Response:
        """One evidence file of the case, checked against its SHA-256 on the way out; the read is on the custody
        trail and, while the case is open, an `evidence_read` event on its timeline."""
        try:
            item, data, on_timeline = await handover.read_evidence(await get_client(), await records(), settings, who,
                                                                   case_id, sha256, "http", reason, by)
        except cases.Impersonation as refused:
            raise HTTPException(403, str(refused)) from None
        return Response(data, media_type=item.media_type, headers={
            "X-Evidence-SHA256": item.sha256, "X-Evidence-On-Timeline": "true" if on_timeline else "false",
            "Content-Disposition": f'attachment; filename="{item.sha256}"'})

    @router.get("/cases/{case_id}/export", response_class=FileResponse,
                responses={200: {"content": {"application/zip": {}}, "description": "the signed case bundle"},
                           404: {"description": "unknown case"}})
    async def get_export(case_id: str, who: Principal = require(Permission.read_case)) -> FileResponse:
        """The case bundle (zip): timeline (JSON, CSV), status, report (HTML, PDF), evidence with its manifest and
        custody, a signed manifest; the stakeholder register only for callers with personal:read."""
        fd, name = tempfile.mkstemp(prefix="crisis-export-", suffix=".zip")
        try:
            with os.fdopen(fd, "w+b") as out:
                written = await handover.export(await client_if_up(), await records(), settings, who, case_id, out, "http")
        except BaseException:
            os.unlink(name)
            raise
        return FileResponse(name, media_type="application/zip", filename=f"{written.case_id}.zip",
                            headers={"X-Bundle-Digest": written.digest, "X-Signing-Key": written.key_fingerprint},
                            background=BackgroundTask(os.unlink, name))

    return router
