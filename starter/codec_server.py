"""The codec server: lets the Temporal Web UI show (and send) encrypted payloads in clear, and vouches
for who types an action in the UI.

Mounted by the intake API (`starter/api.py`) under `/codec`:

    POST /codec/encode   POST /codec/decode

Both take and answer Temporal's codec-server JSON, the protobuf JSON of `Payloads`:
`{"payloads": [{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}]}`.
Point the UI at it with `temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8000/codec`
(compose: `TEMPORAL_CODEC_ENDPOINT` on the UI container; the URL is fetched by the browser).

The browser calls it cross-origin, so `/codec/*` answers CORS (preflight included) for the UI's
origins: `CRISIS_CODEC_CORS_ORIGINS` (comma-separated), default `http://localhost:8233` and
`http://127.0.0.1:8233`. With `INTAKE_TOKEN` set the API's bearer check covers these routes too
(preflights excepted: browsers never send credentials on them); the UI must then pass the header.
Anyone who can call `/codec/decode` reads every case's personal data: keep the API on a trusted
network or set `INTAKE_TOKEN`.

Who acts in the Web UI (issue 20): the UI encodes every Signal and Update input through `/encode`
before it sends it. Called with a credential (a bearer token, or the sign-in cookie of `/signin` when
the UI is set to include cross-origin credentials), `/encode` stamps each JSON object with the
caller's verified identity (`crisisdesk.stamps`, channel `ui`), which the case checks; with
`CRISIS_AUTH` on both routes need a credential (401 without: the Web UI 2.54 then says only "Data
encoding failed" in its dialog and "Codec Server could not connect" on the page, words of its own).
Without an encryption key the payloads travel in clear, stamped all the same.

What `/decode` gives back depends on the caller (with `CRISIS_AUTH` on; it needs `case:read`): every
payload in clear with `payload:decode` (head, customer service, privacy); to everyone else, such as an
operator, only what the UI needs to work a case (`readable_without_decode`): the UI's metadata query
(the handlers' names and descriptions and the case sheet, which carries no personal data) and failure
messages (a refusal's reason), with e-mail addresses and phone numbers masked as in the API's redacted
answers; every other payload comes back as it was sent, still sealed.
"""

import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from crisisdesk.codec import EncryptionCodec, PayloadDecryptionError
from crisisdesk.logs import log
from crisisdesk.permissions import Permission
from crisisdesk.settings import Settings
from crisisdesk.stamps import StampSigner
from starter.auth import Principal, require
from starter.redaction import redact_value

PREFIX = "/codec"
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
ORIGINS_ENV = "CRISIS_CODEC_CORS_ORIGINS"


def cors_origins() -> list[str]:
    """The Web UI origins allowed to call the codec server: `CRISIS_CODEC_CORS_ORIGINS` or the defaults."""
    value = os.environ.get(ORIGINS_ENV, "")
    origins = [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
    return origins or list(DEFAULT_ORIGINS)


class PlainCodec(PayloadCodec):
    """No encryption configured: payloads pass unchanged (the codec server still stamps them)."""

    async def encode(self, payloads):
        return list(payloads)

    async def decode(self, payloads):
        return list(payloads)


# What the UI's metadata query answers (`__temporal_workflow_metadata`): handlers and the case sheet.
READABLE_MESSAGE_TYPES = frozenset({b"temporal.api.sdk.v1.WorkflowMetadata"})


def _json_object(payload: Payload) -> dict | None:
    if payload.metadata.get("encoding") != b"json/plain":
        return None
    try:
        value = json.loads(payload.data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _with_value(payload: Payload, value: object) -> Payload:
    return Payload(metadata=dict(payload.metadata), data=json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def stamp_payloads(payloads: list[Payload], signer: StampSigner | None, who: Principal) -> list[Payload]:
    """Each JSON object the UI typed, stamped for the signed-in caller (anything else left as it is)."""
    if signer is None:
        return payloads
    out = []
    for payload in payloads:
        value = _json_object(payload)
        if value is not None:
            person = None if who.method == "local" else who.person_id
            value = signer.stamp(value, person=person, roles=who.roles, channel="ui", at=datetime.now(timezone.utc))
            payload = _with_value(payload, value)
        out.append(payload)
    return out


def readable_without_decode(sealed: Payload, clear: Payload) -> Payload:
    """What a caller without `payload:decode` gets back for one payload: the UI's metadata query and a
    failure's message and stack trace (`{"message", "stack_trace"}`, a refusal's reason), redacted like the
    API's answers; any other payload as it was sent (still sealed)."""
    encoding = clear.metadata.get("encoding")
    value: object = None
    if encoding == b"json/protobuf" and clear.metadata.get("messageType") in READABLE_MESSAGE_TYPES:
        try:
            value = json.loads(clear.data)
        except ValueError:
            value = None
    elif (found := _json_object(clear)) is not None and "message" in found and set(found) <= {"message", "stack_trace"}:
        value = found
    if not isinstance(value, dict):
        return sealed
    return _with_value(clear, redact_value(value))


def codec_router(codec: PayloadCodec, signer: StampSigner | None = None) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["codec server"],
                       dependencies=[Depends(HTTPBearer(auto_error=False, description="INTAKE_TOKEN, when the server has one"))])
    body_doc = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["payloads"],
        "properties": {"payloads": {"type": "array", "items": {"type": "object", "properties": {
            "metadata": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
            "data": {"type": "string", "format": "byte"}}}}}}}}}}

    async def run(request: Request, decode: bool, who: Principal | None = None, whole: bool = True) -> JSONResponse:
        raw = await request.body()
        payloads = Payloads()
        try:
            json_format.Parse(raw or b"{}", payloads)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as err:
            return JSONResponse({"detail": f"not codec-server JSON ({{\"payloads\": [...]}}): {err}"}, status_code=400)
        given = list(payloads.payloads)
        if who is not None:
            given = stamp_payloads(given, signer, who)
        try:
            out = await (codec.decode if decode else codec.encode)(given)
        except PayloadDecryptionError as err:
            return JSONResponse({"detail": str(err), "key_id": err.key_id}, status_code=422)
        if not whole:
            out = [readable_without_decode(sealed, clear) for sealed, clear in zip(given, out)]
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=out)) or {"payloads": []})

    @router.post("/encode", openapi_extra=body_doc)
    async def encode(request: Request, who: Principal = require(Permission.act)) -> JSONResponse:
        """Stamp the Web UI's typed signal/update input with the caller's identity, and encrypt it with
        the current key (when one is set)."""
        return await run(request, decode=False, who=who)

    @router.post("/decode", openapi_extra=body_doc)
    async def decode(request: Request, who: Principal = require(Permission.read_case)) -> JSONResponse:
        """Decrypt payloads with any configured key; unencrypted payloads come back unchanged. A caller
        without `payload:decode` gets only the UI's metadata query and failure messages, redacted; the
        rest stays sealed. Each decode is logged with who asked (and the namespace the Web UI names)."""
        whole = who.can(Permission.decode)
        log.info("payloads decoded", person=who.person_id, namespace=request.headers.get("x-namespace"), whole=whole)
        return await run(request, decode=True, whole=whole)

    return router


class CodecCORS:
    """CORS for `/codec/*` only: the rest of the API stays same-origin."""

    def __init__(self, app, origins: Sequence[str], prefix: str = PREFIX):
        self.app, self.prefix = app, prefix
        self.cors = CORSMiddleware(
            app, allow_origins=list(origins), allow_methods=["POST", "OPTIONS"], allow_headers=["*"],
            allow_credentials=True, max_age=600,
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


def mount_codec(app: FastAPI, settings: Settings, authenticator=None, origins: Sequence[str] | None = None) -> bool:
    """Add the codec routes and their CORS to `app` when there is something to do: decrypt (an
    encryption key) or vouch for who acts (a stamp key); True if mounted.

    Call it after the API's other middleware: CORS must be outermost so preflights are answered
    before the bearer check (browsers send no Authorization on a preflight).
    """
    signer = settings.stamp_signer()
    if settings.encryption_key is None and signer is None:
        return False
    codec = EncryptionCodec(settings.encryption_key.get_secret_value()) if settings.encryption_key else PlainCodec()
    app.include_router(codec_router(codec, signer))
    app.add_middleware(CodecCORS, origins=list(origins) if origins is not None else cors_origins())
    return True
