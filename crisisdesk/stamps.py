"""Identity stamps: who acts, vouched for by the edge that verified them, checked by the case itself.

A workflow cannot see who sent a signal or an update; what the payload carries is the only channel.
The edges that authenticate people (the intake API for HTTP and the CLI, its codec endpoint for the
Web UI) put a `_stamp` into the action's JSON object: the verified person and their directory roles,
the channel, the case and action it is for (when the edge knows them: the Web UI's codec does not),
a digest of the rest of the payload, the time and a nonce, signed with Ed25519. The case verifies it
with the public keys it pinned when it opened (a refresh fetches them again, recorded in history),
so the check is pure and replays exactly, and no secret ever enters a workflow's history.

A stamp is refused when it is forged, made for another payload, case or action, too old, seen before
by the case (a replay), or made with a key the worker no longer holds (retired). How old is too old
depends on what binds it: the API's and the CLI's stamps name their case and action, so a captured
one can only be sent again where the case's nonce list refuses it; they last a day (a signal waits
in history while the worker is down). The Web UI's codec cannot know the case, so its stamps last
`TTL`: long enough to send what was typed, too short to carry it to other cases later.
"""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FIELD = "_stamp"
TTL = timedelta(minutes=10)  # an unbound stamp (the UI's): the UI encodes, then sends at once
BOUND_TTL = timedelta(days=1)  # a stamp bound to its case and action (the API's, the CLI's)
SKEW = timedelta(seconds=30)  # the edge's clock may be a little ahead of the server's
CHANNELS = ("http", "cli", "ui", "link", "customer", "system", "intake")


class Stamp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    kid: str = Field(max_length=32)
    person: str | None = Field(None, max_length=200)  # None: the embedded stack's one local user (no auth)
    roles: tuple[str, ...] = Field(default=(), max_length=50)
    channel: str = Field(max_length=20)
    case: str | None = Field(None, max_length=300)
    action: str | None = Field(None, max_length=100)
    digest: str = Field(max_length=64)
    at: datetime
    nonce: str = Field(max_length=64)
    denied: str | None = Field(None, max_length=1000)
    sig: str = Field("", max_length=200)


class StampRefused(ValueError):
    """Why a stamp does not vouch for anyone (one line, for the refusal on the case's timeline)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def payload_digest(payload: dict) -> str:
    """SHA-256 of the action's JSON object without its stamp."""
    return hashlib.sha256(_canonical({k: v for k, v in payload.items() if k != FIELD})).hexdigest()


def _signed_bytes(stamp: Stamp) -> bytes:
    return _canonical(stamp.model_dump(mode="json", exclude={"sig"}))


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


# -- the edges: sign ---------------------------------------------------------------------------------
class StampSigner:
    """The edge's signing key ring (`CRISIS_STAMP_KEY`: base64 Ed25519 seeds, comma-separated; the
    first signs, the worker accepts all). One per process."""

    def __init__(self, seeds: Iterable[bytes]) -> None:
        self.keys = [Ed25519PrivateKey.from_private_bytes(seed) for seed in seeds]
        if not self.keys:
            raise ValueError("CRISIS_STAMP_KEY: no key given")

    @classmethod
    def from_text(cls, ring: str) -> "StampSigner":
        try:
            seeds = [base64.b64decode(part.strip(), validate=True) for part in ring.split(",") if part.strip()]
        except ValueError:
            raise ValueError("CRISIS_STAMP_KEY: not base64 (make one with `crisis keys new-stamp-key`)") from None
        if any(len(seed) != 32 for seed in seeds):
            raise ValueError("CRISIS_STAMP_KEY: each key must be 32 bytes, base64-encoded")
        return cls(seeds)

    def public_keys(self) -> dict[str, str]:
        """Key id → public key (base64url), what cases pin and verify with."""
        out = {}
        for key in self.keys:
            public = key.public_key().public_bytes_raw()
            out[key_id(public)] = _b64(public)
        return out

    def stamp(self, payload: dict, *, person: str | None, roles: Iterable[str] = (), channel: str, at: datetime,
              case: str | None = None, action: str | None = None, denied: str | None = None) -> dict:
        """`payload` with a signed `_stamp` (any stamp it carried is replaced)."""
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        body = {k: v for k, v in payload.items() if k != FIELD}
        key = self.keys[0]
        unsigned = Stamp(kid=key_id(key.public_key().public_bytes_raw()), person=person, roles=tuple(roles)[:50],
                         channel=channel, case=case, action=action, digest=payload_digest(body), at=at,
                         nonce=secrets.token_hex(12), denied=denied[:1000] if denied else None)
        signed = unsigned.model_copy(update={"sig": _b64(key.sign(_signed_bytes(unsigned)))})
        return {**body, FIELD: signed.model_dump(mode="json", exclude_none=True)}


def new_seed() -> str:
    """A new signing key, base64 (what `CRISIS_STAMP_KEY` holds)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


# -- the case: verify (pure: no I/O, no clock but the one given) ---------------------------------------
def split(payload: Any) -> tuple[Any, Any]:
    """The action's payload without its stamp, and the raw stamp (None when it carries none)."""
    if isinstance(payload, dict) and FIELD in payload:
        return {k: v for k, v in payload.items() if k != FIELD}, payload[FIELD]
    return payload, None


def verify(raw: Any, payload: Any, keys: dict[str, str], now: datetime, case_id: str, action: str) -> Stamp:
    """The stamp `raw` as a verified `Stamp`, or StampRefused saying why. `payload` is the action's
    object without it; `keys` the case's pinned public keys."""
    try:
        stamp = Stamp.model_validate(raw)
    except ValidationError:
        raise StampRefused("the identity stamp is malformed") from None
    public = keys.get(stamp.kid)
    if public is None:
        raise StampRefused("the identity stamp was made with a key this case does not accept (unknown or retired)")
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(public)).verify(_unb64(stamp.sig), _signed_bytes(stamp))
    except (InvalidSignature, ValueError):
        raise StampRefused("the identity stamp's signature is not valid (forged or altered)") from None
    if not isinstance(payload, dict) or stamp.digest != payload_digest(payload):
        raise StampRefused("the identity stamp was made for another payload")
    if stamp.case is not None and stamp.case != case_id:
        raise StampRefused("the identity stamp was made for another case")
    if stamp.action is not None and stamp.action != action:
        raise StampRefused("the identity stamp was made for another action")
    if stamp.at > now + SKEW:
        raise StampRefused("the identity stamp is dated in the future")
    ttl = BOUND_TTL if stamp.case is not None and stamp.action is not None else TTL
    if now - stamp.at > ttl:
        raise StampRefused(f"the identity stamp expired (it lasts {int(ttl.total_seconds() // 60)} min): send the action again")
    return stamp
