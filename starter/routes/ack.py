"""`GET /ack/{token}` (and `POST`): an alert's one-time link becomes the `acknowledge` action of the
person it was sent to, through channel `link`, so escalation stops without opening the Web UI.

The signed token is the credential (it is opened from a phone: no bearer token). Refusals are clear
4xx: 403 forged or malformed, 410 expired, 409 used before (or the case refused it); an expired or
reused link is also recorded on its case as a refused `acknowledge` (a forged one names no case
anyone vouched for, so it is only logged). The nonce is stored in `ack_links_used` in the same
transaction as the case accepts the action: a link the case refused stays usable.
"""

from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.client import Client

from crisisdesk.acklinks import AckClaim, AckRefused, read_token
from crisisdesk.acting import acting
from crisisdesk.logs import log
from crisisdesk.settings import Settings
from starter import client as cases
from starter.client import CrisisClientError


def ack_router(settings: Settings, get_pool: Callable[[], Awaitable[asyncpg.Pool]],
               get_client: Callable[[], Awaitable[Client]]) -> APIRouter:
    router = APIRouter(tags=["reach"])

    async def record_refusal(claim: AckClaim, reason: str) -> None:
        """The case's timeline gets the refused attempt (channel `link`, the person's identity)."""
        try:
            with acting(channel="link", identity=claim.person, denied=reason):
                await cases.act(await get_client(), claim.case_id, "acknowledge", {"by": claim.person})
        except CrisisClientError:
            pass  # refused, as it should be: the case has it on record

    async def acknowledge_by_link(token: str) -> JSONResponse:
        if settings.ack_secret is None:
            return JSONResponse({"detail": "acknowledgement links are off: set CRISIS_ACK_SECRET",
                                 "reason": "disabled"}, status_code=404)
        try:
            claim = read_token(settings.ack_secret.get_secret_value(), token)
        except AckRefused as err:
            if err.claim is None:
                log.warning("acknowledgement link refused", reason=str(err).split(";")[0])
                return JSONResponse({"detail": str(err), "reason": "invalid"}, status_code=403)
            await record_refusal(err.claim, "acknowledgement link expired")
            return JSONResponse({"detail": str(err), "reason": "expired"}, status_code=410)
        pool = await get_pool()
        async with pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                """INSERT INTO ack_links_used (nonce, person_id, case_id) VALUES ($1, $2, $3)
                   ON CONFLICT (nonce) DO NOTHING RETURNING used_at""", claim.nonce, claim.person, claim.case_id)
            if fresh is None:
                used = "acknowledgement link used already: it works once"
            else:
                # A refusal (or an unknown case) raises through the transaction, so the nonce is
                # rolled back, and the app answers it as for any action (409 with the reason, 404).
                with acting(channel="link", identity=claim.person):
                    result = await cases.act(await get_client(), claim.case_id, "acknowledge", {"by": claim.person})
        if fresh is None:
            await record_refusal(claim, used)
            return JSONResponse({"detail": f"token: {used}", "reason": "used"}, status_code=409)
        log.info("acknowledged by link", case_id=claim.case_id)
        return JSONResponse(result.model_dump(mode="json"))

    router.add_api_route("/ack/{token}", acknowledge_by_link, methods=["GET", "POST"],
                         summary="Acknowledge the alert this link came with, as the person it was sent to",
                         responses={403: {"description": "forged or malformed"}, 409: {"description": "used, or refused"},
                                    410: {"description": "expired"}})
    return router
