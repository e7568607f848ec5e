"""The intake HTTP API (docs/contract.md, "Intake HTTP API"): open cases, read them, act on them.

    uvicorn starter.api:app --port 8000     # settings from the environment

Bad input is always a 4xx naming the field; Temporal or PostgreSQL down is a 503 saying which.
"""

import asyncio
import contextlib
import hmac
import logging
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from crisisdesk import i18n
from crisisdesk.logs import LinkTokenFilter, configure_logging, log
from crisisdesk.acting import carrying_acting
from starter.seats import intake_roles_problem
from crisisdesk.permissions import Permission
from crisisdesk.sealing import Sealer
from starter.auth import AuthGate, Authenticator, Principal, require
from starter.bodies import BodyRefused, read_json
from starter.errors import error as _error, public_errors as _public, validation_failed
from starter.redaction import needs_redaction, redact_events, redact_status
from starter.scope import CasePlaces, check_place
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import PlaybookError
from crisisdesk.settings import Settings, get_settings
from starter import client as cases
from starter.evidence_intake import EvidenceTooLarge
from starter.discovery import stack_parts
from starter.pools import LoopPools
from starter.routes.actions import actions_router
from starter.routes.metrics import metrics_router
from starter.routes.projects import projects_router
from starter.routes.ack import ack_router
from starter.routes.customer import customer_router
from starter.routes.reach import reach_router
from starter.routes.records import records_router
from starter.grouping import join_open_case
from starter.client import (
    ActionInvalid, ActionRejected, CaseNotFound, CaseUnavailable, CrisisClientError, IntakeInvalid, StartedCase,
    TemporalUnavailable, UnknownAction,
)

MAX_BODY = 1024 * 1024
RETRY_AFTER = "5"  # seconds: a restarting part of the embedded stack is back in about that
OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
HEALTH_TIMEOUT = 3.0


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
        self.locale = settings.locale

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        # The caller's language for refusals written from the catalogue (crisisdesk/i18n.py).
        accept = dict(scope["headers"]).get(b"accept-language", b"").decode("latin-1")
        i18n.READER.set(i18n.from_accept_language(accept, self.locale))
        # /ack/<token>: the signed token is the credential (opened from a phone, no bearer token).
        if self.token is not None and path not in OPEN_PATHS and not path.startswith(("/ack/", "/c/")) and not self._authorised(scope):
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
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await too_big(scope, receive, send)
            if not self._json_to_check(scope, headers):
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
        if body and self._json_to_check(scope, headers):
            try:
                read_json(body)
            except BodyRefused as refused:
                if refused.limit:  # too deep, too many keys, a huge number: one line, before any parser
                    log.info("request body refused", path=path, reason=str(refused))
                    return await validation_failed(refused.errors())(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _json_to_check(scope, headers: dict[bytes, bytes]) -> bool:
        """A JSON body a route parses itself (FastAPI, the codec): checked here for depth and size first.
        Actions check their own body (and record what they refuse on the case); uploads are files."""
        path, kind = scope["path"], headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        return (scope["method"] in ("POST", "PUT", "PATCH") and not path.endswith("/evidence")
                and "/actions/" not in path and kind not in (b"application/x-www-form-urlencoded", b"multipart/form-data"))

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
    if missing := settings.missing_stamp_key():
        raise RuntimeError(missing)
    # A client handed in (tests, an embedding service) still says who acts and through which channel.
    # What this API sends in a person's name is signed for the case to check (CRISIS_STAMP_KEY).
    state: dict[str, Any] = {"client": carrying_acting(client, settings.stamp_signer()) if client is not None else None}
    lock = asyncio.Lock()
    pools = LoopPools(settings)
    get_pool = pools.get
    places = CasePlaces()
    admission = Admission(settings)

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
        response = _error(503, str(err))  # Temporal unreachable: worth asking again too
        if isinstance(err, TemporalUnavailable):
            response.headers["Retry-After"] = RETRY_AFTER
        return response

    @app.post("/intakes", status_code=201, response_model=StartedCase, dependencies=secured,
              responses={200: {"model": StartedCase, "description": "the same intake again: the same case"}})
    async def post_intake(intake: Intake, _who: Principal = require(Permission.open_case)) -> JSONResponse:
        """Open the case for a reported problem; answers the case id and the promised response time.
        The same problem as an open case (project, category, location) joins it: `joined`, `200`.
        `503` with `Retry-After` while a part of the embedded stack that opens cases is restarting, and
        when more intakes arrive at once than the stack absorbs; the same intake sent again then opens
        its case, or finds the one it already opened.
        Naming who holds the case's roles (`roles`) is for callers who manage projects (`projects:manage`),
        and only people from the directory whose roles allow the seat are named."""
        if intake.reopens is not None:
            return validation_failed([{"loc": ["body", "reopens"], "type": "value_error",
                                       "msg": "set by POST /cases/{case_id}/reopen (or `crisis case reopen`), not typed"}])
        if (down := stack_down()) is not None:
            response = _error(503, down)
            response.headers["Retry-After"] = RETRY_AFTER
            return response
        with admission.admit(intake.intake_id) as admitted:
            if not admitted:
                return admission.refused()
            if intake.roles:
                if problem := await intake_roles_problem(_who, intake.roles, await get_pool() if settings.auth != "none" else None):
                    status, message = problem
                    return _error(status, message) if status == 403 else validation_failed(
                        [{"loc": ["body", "roles"], "msg": message, "type": "value_error"}])
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
    async def get_case(case_id: str, who: Principal = require(Permission.read_case)) -> CaseStatus:
        """The case's `status` query; `case_id` is `crisis-<intake_id>` or the bare intake id. Personal data
        is redacted for callers without `personal:read`; a case outside the caller's scope is a 404."""
        status = await cases.status(await get_client(), case_id)
        check_place(who, status.case_id, status.project)
        return redact_status(status) if needs_redaction(who) else status

    @app.get("/cases/{case_id}/timeline", response_model=list[TimelineEvent], dependencies=secured)
    async def get_timeline(case_id: str, after_seq: int = Query(0, ge=0, description="events after this seq"),
                           limit: int = Query(1000, ge=1, le=10_000, description="at most this many"),
                           who: Principal = require(Permission.read_case)) -> list[TimelineEvent]:
        """The case's events in order, rejected actions included, a page at a time: PostgreSQL's record
        with the events it has not caught up with yet from the case itself."""
        await places.check(who, await get_client(), case_id, await get_pool())
        events = await cases.timeline_page(await get_client(), case_id, await get_pool(), after_seq, limit)
        return redact_events(events) if needs_redaction(who) else events

    # The Web UI's codec server: it decrypts (with CRISIS_ENCRYPTION_KEY) and stamps who types an action
    # (with CRISIS_STAMP_KEY); mounted after the Guard middleware so CORS preflights are answered first.
    from starter.codec_server import mount_codec
    from starter.routes.signin import signin_router

    mount_codec(app, settings, authenticator)
    app.include_router(signin_router(settings, authenticator))

    app.include_router(actions_router(settings, get_client, get_pool, places))
    app.include_router(metrics_router(settings, get_pool), dependencies=[require(Permission.reports)])
    app.include_router(projects_router(get_pool))
    app.include_router(reach_router(get_pool, Sealer.from_settings(settings)))
    app.include_router(ack_router(settings, get_pool, get_client))
    app.include_router(customer_router(settings, get_pool, get_client, places))
    app.include_router(records_router(settings, get_pool, get_client), dependencies=secured)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when Temporal and PostgreSQL answer; 503 naming what is down. Under `crisis dev`, also each
        part's state and restarts (`parts`), and 503 while one of them is not running."""
        temporal, postgres = await asyncio.gather(_temporal_ok(get_client), _postgres_ok(settings))
        body: dict[str, Any] = {"temporal": temporal, "postgres": postgres}
        healthy = temporal == "ok" and postgres in ("ok", "not configured")
        if (parts := stack_parts()) is not None:
            body["parts"] = {key: {"state": part.get("state"), "restarts": part.get("restarts", 0)}
                             for key, part in parts.items()}
            healthy = healthy and all(part.get("state") == "running" for part in parts.values())
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app


# The parts of the embedded stack an intake needs: the server keeps the case, the worker opens it.
INTAKE_NEEDS = {"temporal": "the Temporal server", "worker": "the worker", "postgres": "PostgreSQL"}


def stack_down() -> str | None:
    """Under `crisis dev`: why an intake cannot be taken now (a part it needs is restarting), else None."""
    parts = stack_parts() or {}
    for key, what in INTAKE_NEEDS.items():
        state = (parts.get(key) or {}).get("state", "running")
        if state != "running":
            return f"{what} is {state} (restarted by crisis dev): send the intake again in a few seconds"
    return None


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


def serving_logs(settings: Settings) -> None:
    """The API process logs as the worker does (crisisdesk.logs: personal data masked, every value at
    most a few hundred characters), uvicorn's own lines included: a 5,000-character path in the access
    log is one short line too. An acknowledgement link's token (and a customer page's) is its credential:
    the access log shows `/ack/***`, never the token."""
    configure_logging(settings.log_format)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:], logger.propagate = [], True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, LinkTokenFilter) for f in access.filters):
        access.addFilter(LinkTokenFilter())


def __getattr__(name: str):
    # `uvicorn starter.api:app`: built on first use, so importing this module reads no environment.
    global _app
    if name == "app":
        if _app is None:
            settings = get_settings()
            serving_logs(settings)
            _app = create_app(settings)
        return _app
    raise AttributeError(name)
