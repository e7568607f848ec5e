"""Who is calling the API, and may they: authentication at the door, permissions per route.

`AuthGate` (ASGI middleware) authenticates every request outside `PUBLIC_PATHS` / `PUBLIC_PREFIXES`
before any body is read, and puts the caller (a `Principal`) in the request's state; a missing,
malformed, expired, revoked or forged credential is a 401 with a one-line reason, logged without the
secret. Routes then say what they need with `require(permission)`, a FastAPI dependency that
answers 403 naming the permission, and hands the route the principal:

    router = APIRouter(dependencies=[require(Permission.reports)])        # a whole router
    async def route(who: Principal = require(Permission.act)): ...         # one route, with the caller

`CRISIS_AUTH=none` (the default, the embedded stack): everyone is the one local user with every
permission, and a set `INTAKE_TOKEN` stays the shared bearer of contract v1 (checked by the API's
Guard). `tokens`: personal API tokens (`crisis users add`). `oidc`: OpenID Connect JWTs, and
personal tokens too (service accounts and scripts cannot sign in interactively).
"""

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from activities.credentials import CredentialRefused, looks_like_token, verify_token
from activities.directory import get_person
from crisisdesk.acting import acting
from crisisdesk.logs import log
from crisisdesk.models.people import Person
from crisisdesk.permissions import ALL_PERMISSIONS, EVERY_CASE_ROLES, Permission, permissions_for
from crisisdesk.settings import Settings
from starter import client as cases
from starter.oidc import OidcVerifier, looks_like_jwt

# Reachable without a credential. An acknowledgement link carries its own capability in the URL:
# its router's prefix goes in PUBLIC_PREFIXES.
PUBLIC_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
                          "/codec"})  # the codec endpoint's address opened in a browser: a link to /signin
PUBLIC_PREFIXES: tuple[str, ...] = ("/ack/", "/c/", "/signin", "/signout")  # an acknowledgement link's signed token is its credential


class Principal(BaseModel):
    """The authenticated caller."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    display_name: str
    roles: tuple[str, ...] = ()
    service: bool = False
    permissions: frozenset[Permission]
    method: Literal["local", "token", "oidc"]
    # Whose cases they see (starter/scope.py): every case, or those of these projects and regions.
    every_case: bool = True
    projects: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def sees(self, project: str | None, region: str | None) -> bool:
        """Whether a case of this project and region is within the caller's scope."""
        return self.every_case or (project is not None and project in self.projects) or (
            region is not None and region in self.regions)


LOCAL = Principal(person_id="local", display_name="the local user (CRISIS_AUTH=none)",
                  permissions=ALL_PERMISSIONS, method="local")


def principal_of(person: Person, method: Literal["token", "oidc"], unscoped: str = "all") -> Principal:
    """`unscoped` (CRISIS_ACCESS_UNSCOPED): what an entry listing no project and no region sees."""
    every_case = any(r in EVERY_CASE_ROLES for r in person.roles) or (
        not person.projects and not person.regions and unscoped == "all")
    return Principal(person_id=person.person_id, display_name=person.display_name, roles=tuple(person.roles),
                     service=person.service, permissions=permissions_for(person.roles, person.service), method=method,
                     every_case=every_case, projects=tuple(person.projects), regions=tuple(person.regions))


class Authenticator:
    """Turns a bearer credential into a Principal, or CredentialRefused. One per process."""

    def __init__(self, settings: Settings, get_pool: Callable[[], Awaitable[asyncpg.Pool | None]]) -> None:
        self.mode, self.get_pool, self.unscoped = settings.auth, get_pool, settings.access_unscoped
        self.oidc: OidcVerifier | None = None
        if self.mode != "none" and settings.database_url is None:
            raise RuntimeError(f"CRISIS_AUTH={self.mode} needs DATABASE_URL: the directory and its tokens live in PostgreSQL")
        if self.mode == "oidc":
            if not settings.oidc_issuer or not settings.oidc_audience:
                raise RuntimeError("CRISIS_AUTH=oidc needs CRISIS_OIDC_ISSUER and CRISIS_OIDC_AUDIENCE")
            self.oidc = OidcVerifier(settings.oidc_issuer, settings.oidc_audience, settings.oidc_person_claim)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    async def authenticate(self, bearer: str | None) -> Principal:
        if not self.enabled:
            return LOCAL
        if not bearer:
            raise CredentialRefused("missing credential: send `Authorization: Bearer <token>` "
                                    f"({'a personal token or an OIDC JWT' if self.oidc else 'a personal token from `crisis users add`'})")
        pool = await self.get_pool()
        if self.oidc is not None and looks_like_jwt(bearer):
            person_id = await self.oidc.verify(bearer)
            person = await get_person(pool, person_id)
            if person is None:
                raise CredentialRefused(f"{person_id[:200]!r} is not in the directory: `crisis users add` them first")
            if not person.active:
                raise CredentialRefused(f"{person_id[:200]!r} is disabled in the directory")
            return principal_of(person, "oidc", self.unscoped)
        if looks_like_token(bearer):
            return principal_of(await verify_token(pool, bearer), "token", self.unscoped)
        raise CredentialRefused("malformed credential: neither a personal token (cdk_…)"
                                + (" nor a JWT" if self.oidc else ""))


async def cli_principal(settings: Settings, permission: Permission) -> Principal:
    """The CLI's caller: the person of `CRISIS_TOKEN` (a personal token or, with OIDC, a JWT), holding
    `permission`; the local user when authentication is off."""
    if settings.auth == "none":
        return LOCAL
    if settings.token is None:
        raise CredentialRefused(f"CRISIS_TOKEN: not set; with CRISIS_AUTH={settings.auth} the CLI acts as the person "
                                "of a personal token (`crisis users add`)")
    from activities.db import create_pool

    pool = await create_pool(settings.dsn())
    try:
        who = await Authenticator(settings, lambda: _given(pool)).authenticate(settings.token.get_secret_value())
    finally:
        await pool.close()
    if not who.can(permission):
        raise CredentialRefused(f"{who.person_id} may not {permission.value} (roles: {', '.join(who.roles) or 'none'})")
    return who


async def _given(pool: asyncpg.Pool) -> asyncpg.Pool:
    return pool


def impersonation(who: Principal, payload: object) -> str | None:
    """Why the payload's `by` is refused for this caller (someone else's name), or None. Fills `by` in
    when the body leaves it out; the local user (auth off) acts as whoever `by` names."""
    if who.method == "local" or not isinstance(payload, dict):
        return None
    by = payload.setdefault("by", who.person_id)
    if by != who.person_id:
        return f"by names {str(by)[:200]!r}, but the credential is {who.person_id}'s: act as yourself"
    return None


async def acting_as(client: Any, who: Principal, channel: str, case_id: str, action: str, payload: object,
                    refusal: Any = None, settings: Any = None) -> Any:
    """Send an action as the authenticated caller: `by` is filled in when absent; naming someone else is
    refused (`Impersonation`, an `ActionRejected`) and recorded on the case as a refused attempt, as is
    what the edge already refused (`refusal`, an ActionInvalid). The local user (auth off) acts as whoever
    `by` names, as before."""
    denied = impersonation(who, payload)
    with acting(channel, identity=None if who.method == "local" else who.person_id, denied=denied, roles=who.roles):
        try:
            return await cases.act(client, case_id, action, payload, refusal=refusal, settings=settings)
        except cases.ActionRejected:
            if denied is not None:
                raise cases.Impersonation(denied) from None
            raise


def bearer_of(headers: dict[bytes, bytes]) -> str | None:
    """The bearer credential of an ASGI scope's headers (None when absent or another scheme)."""
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


SESSION_COOKIE = "crisis_session"
# Where the sign-in cookie stands in for a bearer token: the codec server the Web UI calls with
# "include cross-origin credentials" (it cannot send a header of its own).
COOKIE_PATHS = ("/codec/",)


def session_of(headers: dict[bytes, bytes]) -> str | None:
    """The credential in the sign-in cookie (`/signin`), or None."""
    from http.cookies import CookieError, SimpleCookie

    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value or None if morsel else None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or any(path.startswith(p) for p in PUBLIC_PREFIXES)


class AuthGate:
    """Pure ASGI middleware: authenticate before the body is read; 401 with the reason on failure."""

    def __init__(self, app, authenticator: Authenticator) -> None:
        self.app, self.authenticator = app, authenticator

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or is_public(scope["path"]):  # CORS preflights too
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        bearer = bearer_of(headers) or (session_of(headers) if scope["path"].startswith(COOKIE_PATHS) else None)
        try:
            principal = await self.authenticator.authenticate(bearer)
        except CredentialRefused as refused:
            log.warning("credential refused", path=scope["path"], method=scope["method"], reason=str(refused))
            response = JSONResponse({"detail": str(refused)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        scope.setdefault("state", {})["principal"] = principal
        return await self.app(scope, receive, send)


def caller(request: Request) -> Principal:
    """The principal AuthGate put on the request; the local user when no gate runs (a bare app)."""
    return getattr(request.state, "principal", None) or LOCAL


def require(permission: Permission) -> Any:
    """A dependency: the caller, when they hold `permission`; 403 naming it otherwise."""
    async def check(request: Request) -> Principal:  # async: no thread-pool hop per request
        who = caller(request)
        if not who.can(permission):
            reason = (f"{who.person_id} may not {permission.value} "
                      f"({'a service account may only open cases' if who.service else 'roles: ' + (', '.join(who.roles) or 'none')})")
            log.warning("permission refused", person=who.person_id, permission=permission.value,
                        path=request.url.path, method=request.method)
            raise HTTPException(403, reason)
        return who

    check.crisis_permission = permission  # what tests/test_access.py looks for on every route
    return Depends(check)


def api_routes(app: Any) -> list[Any]:
    """Every route of the app with its path, methods and dependant, those of included routers too
    (FastAPI keeps an included router as one lazy entry of `app.routes`)."""
    found = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            found.extend(route.effective_route_contexts())
        else:
            found.append(route)
    return found


def route_permissions(route: Any) -> set[Permission]:
    """The permissions `require` guards an APIRoute with (empty: unguarded)."""
    found: set[Permission] = set()
    stack = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while stack:
        dep = stack.pop()
        if (p := getattr(dep.call, "crisis_permission", None)) is not None:
            found.add(p)
        stack.extend(dep.dependencies)
    return found
