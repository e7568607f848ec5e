"""Acknowledgement links: `/ack/<token>`, signed with CRISIS_ACK_SECRET, bound to a person and a case,
expiring, and single use (the API records each nonce it accepts in `ack_links_used`).

token = base64url(person \\x1f case \\x1f expires (epoch s) \\x1f nonce) "." base64url(HMAC-SHA256)
The nonce comes from the notification's key and the person, so a retried notification sends the
same link. The token names the person's directory id, never a contact.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

SEP = "\x1f"


class AckRefused(ValueError):
    """The link cannot be used: forged, malformed, expired or used before (the message says which).
    `claim` is set when the link is genuine (expired, used), so the refusal can go on its case."""

    def __init__(self, message: str, claim: "AckClaim | None" = None) -> None:
        super().__init__(message)
        self.claim = claim


@dataclass(frozen=True)
class AckClaim:
    person: str
    case_id: str
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def nonce_for(key: str, person: str) -> str:
    return hashlib.sha256(f"{key}{SEP}{person}".encode()).hexdigest()[:24]


def make_token(secret: str, person: str, case_id: str, expires_at: datetime, nonce: str) -> str:
    body = _b64(SEP.join([person, case_id, str(int(expires_at.timestamp())), nonce]).encode())
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str, now: datetime | None = None) -> AckClaim:
    """The claim of a genuine, unexpired token; AckRefused naming the reason otherwise."""
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature:
        raise AckRefused("token: malformed (expected <payload>.<signature>)")
    if not hmac.compare_digest(signature.encode(), _sign(secret, body).encode()):  # any text a URL carries
        raise AckRefused("token: signature does not match (forged or altered link)")
    try:
        person, case_id, expires, nonce = _unb64(body).decode().split(SEP)
        expires_at = datetime.fromtimestamp(int(expires), timezone.utc)
    except (ValueError, UnicodeDecodeError):
        raise AckRefused("token: malformed payload") from None
    claim = AckClaim(person=person, case_id=case_id, expires_at=expires_at, nonce=nonce)
    if (now or datetime.now(timezone.utc)) >= expires_at:
        raise AckRefused(f"token: expired at {expires_at.isoformat()}; acknowledge in the case instead", claim)
    return claim
