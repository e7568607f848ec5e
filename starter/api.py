"""The intake HTTP API (CONTRACT.md, "Intake HTTP API"): open cases, read them, act on them.

    uvicorn starter.api:app --port 8000     # settings from the environment

Bad input is always a 4xx naming the field; Temporal or PostgreSQL down is a 503 saying which.
"""

import asyncio
import contextlib
import hmac
import json
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from crisisdesk.logs import log
from crisisdesk.acting import carrying_acting
from crisisdesk.permissions import Permission
from crisisdesk.sealing import Sealer
from starter.auth import AuthGate, Authenticator, Principal, acting_as, require
from crisisdesk.models.actions import error_message
from crisisdesk.models.case import ActionResult, CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import PlaybookError
from crisisdesk.settings import Settings, get_settings
from starter import client as cases
from starter.evidence_intake import EvidenceIntake, EvidenceTooLarge
from starter.pools import LoopPools
from starter.routes.metrics import metrics_router
from starter.routes.projects import projects_router
from starter.routes.ack import ack_router
from starter.routes.reach import reach_router
from starter.grouping import join_open_case
from starter.client import (
    ActionInvalid, ActionRejected, CaseNotFound, CaseUnavailable, CrisisClientError, IntakeInvalid, StartedCase,
    TemporalUnavailable, UnknownAction,
)

MAX_BODY = 1024 * 1024
OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
HEALTH_TIMEOUT = 3.0


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """`summary: Field required; reporter.name: String should have at most 200 characters`."""
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg')}")
    return "; ".join(parts)


def _public(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Never echo the input back: it can be megabytes of evidence or someone's phone number.
    return [{"loc": list(e.get("loc", ())), "msg": error_message(e) if "type" in e else e.get("msg"), "type": e.get("type")}
            for e in errors]


def validation_failed(errors: list[dict[str, Any]]) -> JSONResponse:
    errors = _public(errors)
    return JSONResponse(jsonable_encoder({"detail": errors, "message": describe_errors(errors)}), status_code=422)


class Guard:
    """Pure ASGI middleware: bearer token first (before any body is read), then the body size limit."""

    def __init__(self, app, settings: Settings):
        self.app = app
        # With CRISIS_AUTH on, personal credentials replace the shared INTAKE_TOKEN (AuthGate checks them).
        shared = settings.intake_token if settings.auth == "none" else None
        self.token = shared.get_secret_value().encode() if shared else None
        # Inline evidence travels base64-encoded inside an action: 4/3 of its limit plus room for the rest;
        # larger files are uploaded (the raw file as the body of /cases/{id}/evidence).
        self.action_limit = settings.evidence_inline_max_bytes * 4 // 3 + 64 * 1024
        self.upload_limit = settings.evidence_max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        # /ack/<token>: the signed token is the credential (opened from a phone, no bearer token).
        if self.token is not None and path not in OPEN_PATHS and not path.startswith("/ack/") and not self._authorised(scope):
            response = _error(401, "missing or wrong bearer token: send `Authorization: Bearer <INTAKE_TOKEN>`")
            response.headers["WWW-Authenticate"] = "Bearer"
            return await response(scope, receive, send)
        if path.endswith("/evidence"):
            limit, how = self.upload_limit, "keep evidence files under that, or give a uri the worker may fetch"
        elif "/actions/" in path:
            limit, how = self.action_limit, ("send larger evidence as the raw body of POST /cases/{case_id}/evidence, "
                                             "or as a uri the worker may fetch")
        else:
            limit, how = MAX_BODY, "send less"
        too_big = _error(413, f"request body larger than {limit} bytes: {how}")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await too_big(scope, receive, send)
            return await self.app(scope, receive, send)  # the server never reads past Content-Length
        # Chunked, no length given: read it here, up to the limit, then hand it on whole.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await too_big(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorised(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)


class Admission:
    """At most `CRISIS_INTAKE_MAX_IN_FLIGHT` intakes being started at once by this process; one more is
    answered at once with 503 and `Retry-After` instead of queueing behind the others until the caller
    times out. An intake that waited `CRISIS_INTAKE_START_TIMEOUT` for Temporal gets the same answer:
    its case may have started, and sending the same intake again finds it (never a second case)."""

    def __init__(self, settings: Settings) -> None:
        self.limit, self.retry_after = settings.intake_max_in_flight, settings.intake_retry_after
        self.in_flight = 0

    @contextlib.contextmanager
    def admit(self, intake_id: str):
        if self.in_flight >= self.limit:
            log.warning("intake refused: too many at once", intake_id=intake_id, in_flight=self.in_flight)
            yield False
            return
        self.in_flight += 1
        try:
            yield True
        finally:
            self.in_flight -= 1

    def refused(self, timed_out: bool = False) -> JSONResponse:
        reason = (f"Temporal did not start the case within the intake's time limit: send the same intake again "
                  f"in {self.retry_after} s (it opens the case, or finds the one already opened)" if timed_out else
                  f"more intakes at once than this desk can start ({self.limit}): send the same intake again in "
                  f"{self.retry_after} s")
        response = _error(503, reason)
        response.headers["Retry-After"] = str(self.retry_after)
        return response


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    # A client handed in (tests, an embedding service) still says who acts and through which channel.
    state: dict[str, Any] = {"client": carrying_acting(client) if client is not None else None}
    lock = asyncio.Lock()
    pools = LoopPools(settings)
    get_pool = pools.get
    admission = Admission(settings)
    evidence = EvidenceIntake(settings, get_pool)

    async def get_client() -> Client:
        if state["client"] is None:
            async with lock:
                if state["client"] is None:
                    state["client"] = await cases.connect(settings)
        return state["client"]

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if state["client"] is None:
            try:
                await get_client()
            except TemporalUnavailable as err:  # keep serving: /healthz says so, requests retry the connect
                log.warning("temporal unreachable at start-up", error=str(err))
        yield
        await pools.close()

    bearer = HTTPBearer(auto_error=False, description="INTAKE_TOKEN, when the server has one")
    app = FastAPI(
        title="crisisdesk intake API",
        version="1",
        description="Open crisis/after-sales cases and act on them. Every case is a Temporal workflow `crisis-<intake_id>`.",
        lifespan=lifespan,
    )
    app.add_middleware(Guard, settings=settings)
    authenticator = Authenticator(settings, get_pool)
    if authenticator.enabled:
        app.add_middleware(AuthGate, authenticator=authenticator)
    else:
        log.info("authentication is off (CRISIS_AUTH=none): every caller is the one local user")
    secured = [Depends(bearer)]  # the Guard (or AuthGate) enforces it; this shows the lock in /docs

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return validation_failed(list(err.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _unparsable(request: Request, err: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers 400 when it cannot even decode the body (say, not UTF-8): that is invalid
        # input like any other, so it is a 422 naming the body.
        if err.status_code == 400:
            return validation_failed([{"loc": ["body"], "msg": "not valid JSON (UTF-8 expected)", "type": "json_invalid"}])
        return await http_exception_handler(request, err)

    @app.exception_handler(CrisisClientError)
    async def _client_error(_request: Request, err: CrisisClientError) -> JSONResponse:
        if isinstance(err, (CaseNotFound, UnknownAction)):
            return _error(404, str(err))
        if isinstance(err, ActionRejected):
            return _error(409, str(err), reason=err.reason)
        if isinstance(err, (ActionInvalid, IntakeInvalid)):
            return JSONResponse({"detail": _public(err.errors), "message": str(err)}, status_code=422)
        if isinstance(err, EvidenceTooLarge):
            return _error(413, str(err))
        if isinstance(err, CaseUnavailable):  # opening, or no worker: worth asking again
            response = _error(503, str(err))
            response.headers["Retry-After"] = "1"
            return response
        return _error(503, str(err))

    @app.post("/intakes", status_code=201, response_model=StartedCase, dependencies=secured,
              responses={200: {"model": StartedCase, "description": "the same intake again: the same case"}})
    async def post_intake(intake: Intake, _who: Principal = require(Permission.open_case)) -> JSONResponse:
        """Open the case for a reported problem; answers the case id and the promised response time.
        The same problem as an open case (project, category, location) joins it: `joined`, `200`.
        More intakes at once than the stack absorbs: `503` with `Retry-After`; the same intake sent
        again then opens its case, or finds the one it already opened."""
        with admission.admit(intake.intake_id) as admitted:
            if not admitted:
                return admission.refused()
            try:
                async with asyncio.timeout(settings.intake_start_timeout.total_seconds()):
                    joined = await join_open_case(await get_client(), await get_pool(), intake, settings, _who.person_id)
                    if joined is not None:
                        return JSONResponse(joined.model_dump(mode="json"), status_code=200)
                    started = await cases.start_case(await get_client(), intake, settings)
            except PlaybookError as err:
                return validation_failed([{"loc": ["body", "playbook"], "msg": str(err), "type": "value_error"}])
            except TimeoutError:
                return admission.refused(timed_out=True)
        return JSONResponse(started.model_dump(mode="json"), status_code=201 if started.created else 200)

    @app.get("/cases/{case_id}", response_model=CaseStatus, dependencies=secured)
    async def get_case(case_id: str, _who: Principal = require(Permission.read_case)) -> CaseStatus:
        """The case's `status` query; `case_id` is `crisis-<intake_id>` or the bare intake id."""
        return await cases.status(await get_client(), case_id)

    @app.get("/cases/{case_id}/timeline", response_model=list[TimelineEvent], dependencies=secured)
    async def get_timeline(case_id: str, after_seq: int = Query(0, ge=0, description="events after this seq"),
                           limit: int = Query(1000, ge=1, le=10_000, description="at most this many"),
                           _who: Principal = require(Permission.read_case)) -> list[TimelineEvent]:
        """The case's events in order, rejected actions included, a page at a time: PostgreSQL's record
        with the events it has not caught up with yet from the case itself."""
        return await cases.timeline_page(await get_client(), case_id, await get_pool(), after_seq, limit)

    @app.post("/cases/{case_id}/actions/{action}", response_model=ActionResult, dependencies=secured,
              responses={409: {"description": "refused by the case, with the reason"},
                         404: {"description": "unknown case or action"}, 422: {"description": "invalid payload"},
                         413: {"description": "too large: upload evidence to /cases/{case_id}/evidence"}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"type": "object", "required": ["by"], "additionalProperties": True}}}}})
    async def post_action(case_id: str, action: str, request: Request,
                          who: Principal = require(Permission.act)) -> ActionResult:
        """Take an action (docs/operators.md lists them): one JSON object with `by` and the action's fields.
        Every refusal, an invalid payload included, is recorded on the case before it is answered."""
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return validation_failed([{"loc": ["body"], "msg": f"not valid JSON: {err}", "type": "json_invalid"}])
        if action == "add_evidence" and isinstance(payload, dict) and isinstance(payload.get("content_base64"), str):
            payload = await evidence.inline_to_upload(payload)  # the case sees only the stored reference
        return await act_as(who, case_id, action, payload)

    @app.post("/cases/{case_id}/evidence", response_model=ActionResult, dependencies=secured,
              responses={413: {"description": "larger than CRISIS_EVIDENCE_MAX_BYTES"}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                  "schema": {"type": "string", "format": "binary"}}}}})
    async def upload_evidence(case_id: str, request: Request, by: str = Query(..., min_length=1, max_length=200),
                              kind: str = Query(..., min_length=1, max_length=200),
                              description: str = Query(..., min_length=1, max_length=5000),
                              location: str | None = Query(None, max_length=500),
                              captured_at: str | None = Query(None, description="RFC 3339"),
                              who: Principal = require(Permission.act)) -> ActionResult:
        """Upload one evidence file as the raw request body; it is stored by SHA-256 and the case gets
        `add_evidence` with the reference (the content never enters the workflow's history)."""
        await cases.status(await get_client(), case_id)  # an unknown case is a 404 before anything is stored
        payload = {"by": by, "kind": kind, "description": description, "location": location,
                   "captured_at": captured_at, "uri": await evidence.upload(request.stream())}
        return await act_as(who, case_id, "add_evidence", {k: v for k, v in payload.items() if v is not None})

    async def act_as(who: Principal, case_id: str, action: str, payload: object) -> ActionResult:
        try:
            return await acting_as(await get_client(), who, "http", case_id, action, payload)
        except cases.Impersonation as refused:
            raise HTTPException(403, str(refused)) from None

    # The Web UI's codec server, only with CRISIS_ENCRYPTION_KEY; mounted after the Guard middleware so
    # CORS preflights are answered before the bearer check.
    if settings.encryption_key is not None:
        from starter.codec_server import mount_codec

        mount_codec(app, settings)

    app.include_router(metrics_router(settings, get_pool), dependencies=[require(Permission.reports)])
    app.include_router(projects_router(get_pool))
    app.include_router(reach_router(get_pool, Sealer.from_settings(settings)))
    app.include_router(ack_router(settings, get_pool, get_client))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when Temporal and PostgreSQL answer; 503 naming what is down."""
        temporal, postgres = await asyncio.gather(_temporal_ok(get_client), _postgres_ok(settings))
        body = {"temporal": temporal, "postgres": postgres}
        healthy = temporal == "ok" and postgres in ("ok", "not configured")
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app


async def _temporal_ok(get_client) -> str:
    try:
        client = await asyncio.wait_for(get_client(), HEALTH_TIMEOUT)
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timedelta(seconds=HEALTH_TIMEOUT))
        return "ok"
    except Exception as err:
        return f"down: {type(err).__name__}"


async def _postgres_ok(settings: Settings) -> str:
    if settings.database_url is None:
        return "not configured"
    import asyncpg

    try:
        conn = await asyncpg.connect(settings.dsn(), timeout=HEALTH_TIMEOUT)
        try:
            await conn.fetchval("SELECT 1", timeout=HEALTH_TIMEOUT)
        finally:
            await conn.close()
        return "ok"
    except Exception as err:  # never the DSN: it holds the password
        return f"down: {type(err).__name__}"


_app: FastAPI | None = None


def __getattr__(name: str):
    # `uvicorn starter.api:app`: built on first use, so importing this module reads no environment.
    global _app
    if name == "app":
        _app = _app or create_app()
        return _app
    raise AttributeError(name)
