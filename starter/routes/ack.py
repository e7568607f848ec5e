"""`/ack/{token}`: an alert's one-time link. `GET` (and whatever a mail scanner or a link preview sends)
shows a confirmation page and changes nothing; only the `POST` from its button becomes the `acknowledge`
action of the person the link was sent to, through channel `link`, so escalation stops without opening
the Web UI.

The signed token is the credential (it is opened from a phone: no bearer token, no cookie). The page's
button posts back to the same address, so the token travels with it and nothing else is needed: a third
site cannot make a browser post a link it does not know. Refusals are clear 4xx: 403 forged or malformed,
410 expired, 409 used before (or the case refused it); a `POST` with an expired or used link is also
recorded on its case as a refused `acknowledge` (a forged one names no case anyone vouched for, so it is
only logged). The nonce is stored in `ack_links_used` in the same transaction as the case accepts the
action: a link the case refused stays usable. The token never reaches a log (crisisdesk.logs).

A browser (`Accept: text/html`) gets pages (starter/ack_page.py); any other client gets JSON.
"""

from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from temporalio.client import Client

from crisisdesk.acklinks import AckClaim, AckRefused, nonce_for, read_token
from crisisdesk.acting import acting
from crisisdesk.logs import log
from crisisdesk.settings import Settings
from starter import ack_page
from starter import client as cases
from starter.client import ActionRejected, CaseNotFound, CrisisClientError, UnknownAction

USED = "acknowledgement link used already: it works once"
ALERTS_LOOKED_AT = 200  # the newest notifications of a case searched for the one a link came with


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _answer(request: Request, status: int, reason: str, detail: str) -> Response:
    if _wants_html(request):
        return ack_page.refused(status, detail)
    return JSONResponse({"detail": detail, "reason": reason}, status_code=status, headers=ack_page.HEADERS)


class LinkRefused(Exception):
    """A link that cannot act: the answer's status, its `reason`, and the claim when the link is genuine."""

    def __init__(self, status: int, reason: str, detail: str, claim: AckClaim | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.claim = status, reason, detail, claim


def _status_of(err: CrisisClientError) -> int:
    if isinstance(err, (CaseNotFound, UnknownAction)):
        return 404
    return 409 if isinstance(err, ActionRejected) else 503


def ack_router(settings: Settings, get_pool: Callable[[], Awaitable[asyncpg.Pool]],
               get_client: Callable[[], Awaitable[Client]]) -> APIRouter:
    router = APIRouter(tags=["reach"])

    def claim_of(token: str) -> AckClaim:
        """The link's claim; LinkRefused when it is off, forged, malformed or expired (recorded by nobody here)."""
        if settings.ack_secret is None:
            raise LinkRefused(404, "disabled", ack_page.WORDS["disabled"])
        try:
            return read_token(settings.ack_secret.get_secret_value(), token)
        except AckRefused as err:
            if err.claim is None:
                log.warning("acknowledgement link refused", reason=str(err).split(";")[0])
                raise LinkRefused(403, "invalid", str(err)) from None
            raise LinkRefused(410, "expired", str(err), err.claim) from None

    async def record_refusal(claim: AckClaim, reason: str) -> None:
        """The case's timeline gets the refused attempt (channel `link`, the person's identity)."""
        try:
            with acting(channel="link", identity=claim.person, denied=reason):
                await cases.act(await get_client(), claim.case_id, "acknowledge", {"by": claim.person})
        except CrisisClientError:
            pass  # refused, as it should be: the case has it on record

    async def show(token: str, request: Request) -> Response:
        """The confirmation page: who, which alert of which case, and one button. Changes nothing."""
        try:
            claim = claim_of(token)
        except LinkRefused as refused:
            return _answer(request, refused.status, refused.reason, refused.detail)
        used, alert = None, None
        try:
            pool = await get_pool()
            used = await pool.fetchval("SELECT used_at FROM ack_links_used WHERE nonce = $1", claim.nonce)
            rows = await pool.fetch("SELECT key, kind, at FROM notifications WHERE case_id = $1 ORDER BY at DESC LIMIT $2",
                                    claim.case_id, ALERTS_LOOKED_AT)
            alert = next((ack_page.AlertSeen(kind=r["kind"], at=r["at"]) for r in rows
                          if nonce_for(r["key"], claim.person) == claim.nonce), None)
        except Exception as err:  # PostgreSQL down: the page still shows, the button still works
            log.warning("acknowledgement page without its record", case_id=claim.case_id, error=type(err).__name__)
        if used is not None:
            return _answer(request, 409, "used", f"token: {USED}")
        if _wants_html(request):
            return ack_page.confirmation(claim.case_id, claim.person, claim.expires_at, alert)
        return JSONResponse({"case_id": claim.case_id, "person": claim.person, "expires_at": claim.expires_at.isoformat(),
                             "alert": {"kind": alert.kind, "at": alert.at.isoformat()} if alert else None,
                             "acknowledge": "POST to this same address"}, headers=ack_page.HEADERS)

    async def acknowledge(token: str, request: Request) -> Response:
        """The button: acknowledges as the person the link was sent to, once."""
        try:
            claim = claim_of(token)
        except LinkRefused as refused:
            if refused.claim is not None:
                await record_refusal(refused.claim, "acknowledgement link expired")
            return _answer(request, refused.status, refused.reason, refused.detail)
        pool = await get_pool()
        try:
            async with pool.acquire() as conn, conn.transaction():
                fresh = await conn.fetchval(
                    """INSERT INTO ack_links_used (nonce, person_id, case_id) VALUES ($1, $2, $3)
                       ON CONFLICT (nonce) DO NOTHING RETURNING used_at""", claim.nonce, claim.person, claim.case_id)
                if fresh is not None:
                    # A refusal (or an unknown case) raises through the transaction, so the nonce is
                    # rolled back, and it is answered as for any action (409 with the reason, 404).
                    with acting(channel="link", identity=claim.person):
                        result = await cases.act(await get_client(), claim.case_id, "acknowledge", {"by": claim.person})
        except CrisisClientError as err:
            if not _wants_html(request):
                raise  # the app's own answer for an action refused or a case unavailable
            return ack_page.refused(_status_of(err), str(err))
        if fresh is None:
            await record_refusal(claim, USED)
            return _answer(request, 409, "used", f"token: {USED}")
        log.info("acknowledged by link", case_id=claim.case_id)
        if _wants_html(request):
            return ack_page.acknowledged(claim.case_id, result.message)
        return JSONResponse(result.model_dump(mode="json"), headers=ack_page.HEADERS)

    errors = {403: {"description": "forged or malformed"}, 409: {"description": "used, or refused"},
              410: {"description": "expired"}}
    router.add_api_route("/ack/{token}", show, methods=["GET"], operation_id="show_ack_link",
                         summary="The confirmation page of an acknowledgement link (changes nothing)", responses=errors)
    router.add_api_route("/ack/{token}", acknowledge, methods=["POST"], operation_id="acknowledge_by_link",
                         summary="Acknowledge the alert this link came with, as the person it was sent to",
                         responses=errors)
    return router
