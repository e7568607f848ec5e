"""The customer's page (issue 24): `GET /c/{token}` and its forms, `POST /c/{token}/answer|confirm|survey`,
and staff's `GET /cases/{case_id}/customer-link`.

The signed token is the reporter's whole credential (opened from an SMS or an e-mail on a phone: no
account, no cookie); PostgreSQL says whether it still stands (crisisdesk.customerlinks, activities.
customer_links). A form becomes the case's own action in the reporter's name (`by` = `reporter:<intake_id>`)
sent through channel `customer` and stamped for that reporter (crisisdesk.stamps): the case accepts it in its
`reporter` seat only with that stamp (workflows.authority), through the same rules and refusals as staff's
actions: one the case is not waiting for is refused and recorded, and the page says so.

Refusals are plain pages (or JSON for a client that asks for it): 403 forged or altered, 404 no such link,
410 revoked, replaced or expired, 429 too many requests on one link (or from one address). Pages are not cached, not
indexed, send no referrer and load nothing from elsewhere; the token never reaches a log (crisisdesk.logs).
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from temporalio.client import Client

from activities import customer_links
from crisisdesk import customer_page, i18n
from crisisdesk.acting import acting
from crisisdesk.customerlinks import LinkClaim, LinkRefused, read_token, reporter_id
from crisisdesk.logs import log
from crisisdesk.models.case import CaseStatus, Stage
from crisisdesk.permissions import Permission
from crisisdesk.settings import Settings
from starter import client as cases
from starter.auth import Principal, require
from starter.client import ActionInvalid, ActionRejected, CaseNotFound, CrisisClientError
from starter.ratelimit import RateLimit
from starter.scope import CasePlaces

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}
MAX_FORM = 16 * 1024
FORMS = {"answer": "customer_answer", "confirm": "resolution_confirmed", "survey": "survey_response"}
YES, NO = {"yes", "true", "1", "y", "是"}, {"no", "false", "0", "n", "否"}
LABELS = {"accept": "Your answer", "satisfied": "Your answer", "reason": "Why (optional)", "note": "What is still wrong (optional)",
          "timeliness": "Timeliness", "effectiveness": "Effectiveness", "attitude": "Attitude",
          "comment": "Anything else (optional)"}
SECURED = [Depends(HTTPBearer(auto_error=False, description="INTAKE_TOKEN, when the server has one"))]


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _yes_no(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return True if text in YES else False if text in NO else value


def _rating(value: Any) -> Any:
    try:
        return int(str(value).strip()) if not isinstance(value, bool) else value
    except ValueError:
        return value


def payload_of(form: str, fields: dict[str, Any], by: str) -> dict[str, Any]:
    """The form's fields as the case's action (named as the contract names the form's fields)."""
    def text(name: str) -> str | None:
        value = fields.get(name)
        return str(value)[:5000] if value not in (None, "") else None

    if form == "answer":
        payload = {"by": by, "satisfied": _yes_no(fields.get("accept")), "note": text("reason")}
    elif form == "confirm":
        payload = {"by": by, "satisfied": _yes_no(fields.get("satisfied")), "note": text("note")}
    else:
        ratings = {name: _rating(fields.get(name)) for name in customer_page.RATINGS}
        payload = {"by": by, **ratings, "comment": text("comment")}
        if all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 5 for r in ratings.values()):
            payload["score"] = round(sum(ratings.values()) / len(ratings))
    return {k: v for k, v in payload.items() if v is not None}


def _bad_fields(form: str, err: ActionInvalid) -> list[str]:
    """The form's own field names among a refusal's (the case's `satisfied` is the answer form's `accept`)."""
    rename = {"satisfied": "accept"} if form == "answer" else {}
    names = []
    for e in err.errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        name = rename.get(loc[0], loc[0]) if loc else "input"
        if name != "score" and name not in names:
            names.append(name)
    return names or ["input"]


ADDRESS_SHARE = 20  # one address may carry this many links' pace: the owners of a building behind one NAT


def slowed(wait: int | None) -> None:
    if wait is not None:
        raise LinkRefused(429, "limited", f"too many requests: wait {wait} s")


def customer_router(settings: Settings, get_pool: Callable[[], Awaitable[asyncpg.Pool]],
                    get_client: Callable[[], Awaitable[Client]], places: CasePlaces) -> APIRouter:
    router = APIRouter(tags=["customer"])
    # Each link has its own pace, so owners behind one address (a compound's Wi-Fi, a carrier's NAT) do not
    # slow each other; tokens that fail their signature are paced per address (guessing is slow); and one
    # address, whatever it sends, has a cap of ADDRESS_SHARE links' worth.
    paced = RateLimit(settings.customer_rate, settings.customer_burst)  # keyed (link, "link") or (address, "forged")
    per_address = RateLimit(settings.customer_rate * ADDRESS_SHARE, settings.customer_burst * ADDRESS_SHARE)

    def answer(request: Request, status: int, reason: str, locale: str | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": reason, "reason": reason}, status_code=status, headers=HEADERS)
        locale = locale or customer_page.locale_of(None, request.headers.get("accept-language"), settings.locale)
        return HTMLResponse(customer_page.plain(status, reason, locale), status_code=status, headers=HEADERS)

    async def open_link(token: str, request: Request) -> LinkClaim:
        """The link's claim, or LinkRefused: rate, signature and expiry, then PostgreSQL's word."""
        who = request.client.host if request.client else "-"
        slowed(per_address.wait(who, "customer"))
        secret = settings.customer_link_secret()
        if secret is None:
            raise LinkRefused(404, "off", "customer links are off on this server")
        try:
            claim = read_token(secret, token)
        except LinkRefused:
            slowed(paced.wait(who, "forged"))
            raise
        slowed(paced.wait(claim.link_id, "link"))
        await customer_links.standing(await get_pool(), claim)
        return claim

    async def reporter_locale(claim: LinkClaim) -> str | None:
        try:
            return await (await get_pool()).fetchval(
                "SELECT intake->'reporter'->>'locale' FROM cases WHERE case_id = $1 AND intake_id = $2",
                claim.case_id, claim.reporter.removeprefix("reporter:"))
        except Exception:  # the page still shows, in the browser's language
            return None

    async def view_of(claim: LinkClaim) -> tuple[CaseStatus, customer_page.CustomerView]:
        client = await get_client()
        status = await cases.status(client, claim.case_id)
        if claim.reporter not in [reporter_id(status.intake_id), *(reporter_id(r.intake_id) for r in status.reporters)]:
            raise LinkRefused(410, "revoked", "this report is no longer on the case")
        events = await cases.timeline(client, claim.case_id)
        progress = [e for e in events if e.kind == "action" and e.name == "progress_reported"]
        plan = status.plan.summary if status.plan else (status.implementation or {}).get("summary")
        promised = [(d.name, d.due_at) for d in status.deadlines if d.name in ("response", "resolution")]
        return status, customer_page.CustomerView(
            reference=status.intake_id, summary=status.summary, received_at=status.received_at,
            stage=status.stage.value, plan=plan, promised=promised,
            progress_at=progress[-1].at if progress else None, progress_count=status.counts.get("progress_reports", 0),
            closed=status.stage in (Stage.closed, Stage.cancelled))

    async def show(token: str, request: Request, lang: str | None = Query(None, max_length=10)) -> Response:
        """The reporter's page: their case in their language, and the one question it waits on them for."""
        try:
            claim = await open_link(token, request)
            status, view = await view_of(claim)
        except LinkRefused as refused:
            return answer(request, refused.status, refused.reason)
        except CaseNotFound:
            return answer(request, 404, "unknown")
        except CrisisClientError:
            return answer(request, 503, "unavailable")
        locale = customer_page.locale_of(lang or await reporter_locale(claim), request.headers.get("accept-language"),
                                         settings.locale)
        if _wants_json(request):
            return JSONResponse({"reference": view.reference, "summary": view.summary, "stage": view.stage,
                                 "asks": customer_page.ASKS.get(view.stage), "plan": view.plan,
                                 "promised": {n: d.isoformat() for n, d in view.promised},
                                 "progress_at": view.progress_at.isoformat() if view.progress_at else None,
                                 "locale": locale}, headers=HEADERS)
        query = f"?lang={locale}" if lang else ""
        return HTMLResponse(customer_page.page(view, locale, settings.timezone, f"/c/{token}", query), headers=HEADERS)

    async def fields_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_FORM:
            raise ValueError("too large")
        if "json" in request.headers.get("content-type", ""):
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return data
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=False).items()}

    def respond(form: str):
        action = FORMS[form]

        async def post(token: str, request: Request, lang: str | None = Query(None, max_length=10)) -> Response:
            try:
                claim = await open_link(token, request)
            except LinkRefused as refused:
                return answer(request, refused.status, refused.reason)
            locale = customer_page.locale_of(lang or await reporter_locale(claim),
                                             request.headers.get("accept-language"), settings.locale)
            back = f"/c/{token}" + (f"?lang={lang}" if lang else "")

            def page(status: int, done: str, detail: str | None = None, fields: list[str] | None = None) -> Response:
                if _wants_json(request):
                    body = {"done": done, **({"fields": fields} if fields else {}), **({"detail": detail} if detail else {})}
                    return JSONResponse(body, status_code=status, headers=HEADERS)
                shown = None
                if fields:
                    words = customer_page.translations(locale)
                    shown = i18n.listing([words.gettext(LABELS.get(f, f)) for f in fields], locale)
                return HTMLResponse(customer_page.outcome(done, locale, back, shown), status_code=status, headers=HEADERS)

            try:
                fields = await fields_of(request)
            except (ValueError, UnicodeDecodeError):
                return page(422, "invalid", fields=["input"])
            payload = payload_of(form, fields, claim.reporter)
            try:
                with acting(channel="customer", identity=claim.reporter):
                    result = await cases.act(await get_client(), claim.case_id, action, payload)
            except ActionInvalid as invalid:
                bad = _bad_fields(form, invalid)
                log.info("customer form refused", case_id=claim.case_id, form=form, fields=bad)
                return page(422, "invalid", detail=str(invalid), fields=bad)
            except ActionRejected as rejected:
                log.info("customer answer not awaited", case_id=claim.case_id, form=form)
                return page(409, "not_awaited", detail=str(rejected))
            except CaseNotFound:
                return answer(request, 404, "unknown", locale)
            except CrisisClientError:
                return page(503, "unavailable")
            log.info("customer answered", case_id=claim.case_id, form=form, stage=str(result.stage))
            return page(200, "taken")

        return post

    errors = {403: {"description": "forged or altered link"}, 404: {"description": "no such link"},
              410: {"description": "revoked, replaced or expired link"}, 429: {"description": "too many requests"}}
    router.add_api_route("/c/{token}", show, methods=["GET"], operation_id="customer_page", responses=errors,
                         summary="The reporter's page of their case (HTML in their language)", include_in_schema=True)
    for form in FORMS:
        router.add_api_route(
            f"/c/{{token}}/{form}", respond(form), methods=["POST"], operation_id=f"customer_{form}",
            summary=f"The reporter's {form} (form-encoded or JSON), recorded as {FORMS[form]} via customer",
            responses={**errors, 409: {"description": "the case is not waiting for this answer (recorded as refused)"},
                       422: {"description": "a field is wrong (named)"}})

    @router.get("/cases/{case_id}/customer-link", dependencies=SECURED)
    async def customer_link(case_id: str, reporter: str | None = Query(None, max_length=300,
                                                                     description="a joined report's intake id"),
                            fresh: bool = Query(False, description="revoke the standing link and issue a new one"),
                            who: Principal = require(Permission.act)) -> JSONResponse:
        """The reporter's link to paste into a chat (and every joined reporter's, `links`)."""
        client = await get_client()
        await places.check(who, client, case_id, await get_pool())
        status = await cases.status(client, case_id)
        ids = [status.intake_id, *(r.intake_id for r in status.reporters)]
        if reporter is not None and reporter.removeprefix("reporter:") not in ids:
            raise HTTPException(404, f"reporter {reporter!r} is not on case {status.case_id}")
        wanted = [reporter.removeprefix("reporter:")] if reporter else ids
        try:
            links = [{"reporter": reporter_id(i), "url": await customer_links.issue(
                await get_pool(), settings, status.case_id, reporter_id(i), fresh=fresh)} for i in wanted]
        except customer_links.LinksOff as off:
            raise HTTPException(409, str(off)) from None
        log.info("customer link issued", case_id=status.case_id, links=len(links), by=who.person_id)
        return JSONResponse({"case_id": status.case_id, "url": links[0]["url"], "links": links},
                            headers={"Cache-Control": "no-store"})

    return router
