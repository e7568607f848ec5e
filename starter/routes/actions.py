"""Acting on a case over HTTP: `POST /cases/{case_id}/actions/{action}` and the evidence upload.

Each request is checked in this order, and stops at the first refusal: the action's name (letters,
digits and _, at most 64: else 422, never sent), the caller's rate on this case (429), a body that is
JSON within the limits of starter/bodies.py (422; it is no action and reaches no case), the caller's
scope (404, as for no case), then what the case must hear about: a body larger than the action can be
(413), a payload its model refuses (422), someone else's `by` (403). Those last ones are recorded on
the case once, from an excerpt of the input (starter/client.act). Evidence is stored only after all
of that, bound to its case.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from temporalio.client import Client

from crisisdesk.logs import log
from crisisdesk.models.case import ActionResult
from crisisdesk.permissions import Permission
from crisisdesk.settings import Settings
from starter import client as cases
from starter.auth import Principal, acting_as, impersonation, require
from starter.bodies import ACTION_NAME, BodyRefused, action_limit, read_json
from starter.client import ActionInvalid
from starter.errors import error, validation_failed
from starter.evidence_intake import EvidenceIntake, EvidenceTooLarge
from starter.ratelimit import RateLimit
from starter.scope import CasePlaces

# What an upload's action is checked with before the file is stored (the real reference replaces it).
UNSTORED = "evidence:sha256:" + "0" * 64
SECURED = [Depends(HTTPBearer(auto_error=False, description="INTAKE_TOKEN, when the server has one"))]


def _readable(raw: bytes) -> object:
    """The body as JSON if it can be read within the limits (to record who sent it), else None."""
    try:
        return read_json(raw)
    except BodyRefused:
        return None


def actions_router(settings: Settings, get_client: Callable[[], Awaitable[Client]],
                   get_pool: Callable[[], Awaitable[Any]], places: CasePlaces) -> APIRouter:
    router = APIRouter(tags=["actions"])
    evidence = EvidenceIntake(settings, get_pool)
    rate = RateLimit(settings.action_rate, settings.action_burst)

    @router.post("/cases/{case_id}/actions/{action}", response_model=ActionResult, dependencies=SECURED,
                 responses={409: {"description": "refused by the case, with the reason"},
                            404: {"description": "unknown case or action"}, 422: {"description": "invalid payload"},
                            403: {"description": "`by` names someone other than the caller"},
                            413: {"description": "larger than the action can be; evidence: upload it to /cases/{case_id}/evidence"},
                            429: {"description": "too many actions on this case from this caller: see Retry-After"}},
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object", "required": ["by"], "additionalProperties": True}}}}})
    async def post_action(case_id: str, action: str, request: Request,
                          who: Principal = require(Permission.act)) -> ActionResult | JSONResponse:
        """Take an action (docs/operators.md lists them): one JSON object with `by` and the action's fields.
        Every refusal of a readable action, an invalid or oversized payload included, is recorded on the
        case before it is answered, with only an excerpt of the input (never the input itself)."""
        if not ACTION_NAME.fullmatch(action):
            shown = action[:64] + (f"… ({len(action)} characters)" if len(action) > 64 else "")
            return validation_failed([{"loc": ["path", "action"], "type": "value_error",
                                       "msg": f"{shown!r} is not an action name (letters, digits and _, at most 64): "
                                              "see docs/operators.md"}])
        throttle(who, case_id, request)
        raw = await request.body()
        limit = action_limit(action, settings)
        payload = None
        if len(raw) <= limit:
            try:  # a body that is not JSON within the limits is no action: refused here, reaching no case
                payload = read_json(raw) if raw else None
            except BodyRefused as refused:
                log.info("action body refused", case_id=case_id, action=action, reason=str(refused))
                return validation_failed(refused.errors())
        client = await get_client()
        await places.check(who, client, case_id, await get_pool())
        if len(raw) > limit:
            how = ("upload evidence as the raw body of POST /cases/{case_id}/evidence, or give a uri"
                   if action == "add_evidence" else "nothing of it was kept")
            return await refuse(who, case_id, action, _readable(raw), 413, ["body"],
                                f"the body is {len(raw)} bytes, more than {action} can be ({limit}): {how}")
        if action == "add_evidence" and isinstance(payload, dict) and isinstance(payload.get("content_base64"), str):
            return await inline_evidence(who, client, case_id, payload)
        return await act_as(who, case_id, action, payload)

    @router.post("/cases/{case_id}/reopen", status_code=201, response_model=cases.StartedCase, dependencies=SECURED,
                 operation_id="reopen_case",
                 responses={404: {"description": "no such case"},
                            409: {"description": "the case is open (its stage named), or was not closed by crisisdesk"}})
    async def reopen(case_id: str, who: Principal = require(Permission.open_case)) -> cases.StartedCase:
        """The customer called again about a closed case: a new case, linked to it (it shows the old case's
        last events and playbook), with its own deadlines. An open case, or one that does not exist, is
        refused in one line that names its state."""
        client = await get_client()
        await places.check(who, client, case_id, await get_pool())
        return await cases.reopen_case(client, case_id, settings)

    async def inline_evidence(who: Principal, client: Client, case_id: str, payload: dict[str, Any]) -> Any:
        """Inline content is stored at the door, and only once the action, `by` and the case are checked."""
        problem = cases.problem_with("add_evidence", payload)
        if problem is None:
            try:
                data = evidence.inline_content(payload)
            except ActionInvalid as invalid:
                problem = invalid
            except EvidenceTooLarge as large:
                return await refuse(who, case_id, "add_evidence", payload, 413, ["body", "content_base64"],
                                    str(large))
        if problem is not None or impersonation(who, payload) is not None:
            return await act_as(who, case_id, "add_evidence", payload)  # refused and recorded: nothing stored
        await cases.check_running(client, case_id)
        payload = await evidence.inline_to_upload(payload, data, case_id)  # the case sees only the reference
        return await act_as(who, case_id, "add_evidence", payload)

    @router.post("/cases/{case_id}/evidence", response_model=ActionResult, dependencies=SECURED,
                 responses={413: {"description": "larger than CRISIS_EVIDENCE_MAX_BYTES"},
                            403: {"description": "`by` names someone other than the caller: nothing stored"},
                            429: {"description": "too many actions on this case from this caller: see Retry-After"}},
                 openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                     "schema": {"type": "string", "format": "binary"}}}}})
    async def upload_evidence(case_id: str, request: Request, by: str = Query(..., min_length=1, max_length=200),
                              kind: str = Query(..., min_length=1, max_length=200),
                              description: str = Query(..., min_length=1, max_length=5000),
                              location: str | None = Query(None, max_length=500),
                              captured_at: str | None = Query(None, description="RFC 3339"),
                              who: Principal = require(Permission.act)) -> Any:
        """Upload one evidence file as the raw request body; it is stored by SHA-256, bound to this case, and
        the case gets `add_evidence` with the reference (the content never enters the workflow's history).
        The caller, the case and `by` are checked first: a refused upload writes nothing."""
        client = await get_client()
        await places.check(who, client, case_id, await get_pool())
        throttle(who, case_id, request)
        payload = {k: v for k, v in {"by": by, "kind": kind, "description": description, "location": location,
                                     "captured_at": captured_at}.items() if v is not None}
        checked = {**payload, "uri": UNSTORED}
        if cases.problem_with("add_evidence", checked) is not None or impersonation(who, checked) is not None:
            return await act_as(who, case_id, "add_evidence", checked)  # refused and recorded: nothing stored
        await cases.check_running(client, case_id)  # an unknown or closed case stores nothing either
        payload["uri"] = await evidence.upload(request.stream(), case_id, by)
        return await act_as(who, case_id, "add_evidence", payload)

    async def act_as(who: Principal, case_id: str, action: str, payload: object,
                     refusal: ActionInvalid | None = None) -> ActionResult:
        try:
            return await acting_as(await get_client(), who, "http", case_id, action, payload, refusal=refusal,
                                   settings=settings)
        except cases.Impersonation as refused:
            raise HTTPException(403, str(refused)) from None

    async def refuse(who: Principal, case_id: str, action: str, payload: object, status: int, loc: list[str],
                     why: str) -> JSONResponse:
        """What this edge refuses before the case could judge it: recorded on the case once (an excerpt of
        the input, the reason), then answered with `status`."""
        refusal = ActionInvalid(f"{action}: {why}", [{"loc": loc, "msg": why, "type": "value_error"}])
        try:
            await act_as(who, case_id, action, payload, refusal=refusal)
        except ActionInvalid:
            pass  # recorded, as it should be
        return error(status, why) if status == 413 else validation_failed(refusal.errors)

    def throttle(who: Principal, case_id: str, request: Request) -> None:
        caller = who.person_id if who.method != "local" else f"local:{request.client.host if request.client else '-'}"
        wait = rate.wait(caller, cases.case_ref(case_id))
        if wait is not None:
            log.info("action rate limited", case_id=cases.case_ref(case_id), person=who.person_id, retry_after_s=wait)
            raise HTTPException(429, f"too many actions on {cases.case_ref(case_id)} from {who.person_id}: at most "
                                     f"{settings.action_rate} a minute (CRISIS_ACTION_RATE); try again in {wait} s",
                                headers={"Retry-After": str(wait)})

    return router
