"""The customer's link: `/c/<token>`, one per case and reporter, signed and revocable (issue 24).

token = base64url(case \\x1f reporter \\x1f link_id \\x1f expires (epoch s)) "." base64url(HMAC-SHA256)

The signature says the link was made here; PostgreSQL (`customer_links`, migration 014) says whether
it still stands: a revoked link, or one replaced by a newer link for the same reporter, is gone (410).
The reporter is named by their report, `reporter:<intake_id>` (the case's own intake, or a report that
joined it), never by a name or a contact. The secret is CRISIS_CUSTOMER_SECRET, or one derived from the
edges' stamp key (CRISIS_STAMP_KEY), so `crisis dev` has customer links without another key to keep.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

SEP = "\x1f"
REPORTER_PREFIX = "reporter:"
MAX_TOKEN = 1000


class LinkRefused(ValueError):
    """The link does not open a case: `status` 403 (forged, malformed), 404 (no such link), 410 (revoked,
    replaced or expired); `reason` a short word for machines."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class LinkClaim:
    case_id: str
    reporter: str
    link_id: str
    expires_at: datetime


def reporter_id(intake_id: str) -> str:
    """How the case names a reporter in `by`: their report's intake id, never who they are."""
    return f"{REPORTER_PREFIX}{intake_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def derive_secret(customer_secret: str | None, stamp_key: str | None) -> bytes | None:
    """The links' HMAC key: CRISIS_CUSTOMER_SECRET, else derived from CRISIS_STAMP_KEY; None: links are off."""
    if customer_secret:
        return customer_secret.encode()
    if stamp_key:
        return hmac.new(stamp_key.encode(), b"crisisdesk customer links v1", hashlib.sha256).digest()
    return None


def make_token(secret: bytes, case_id: str, reporter: str, link_id: str, expires_at: datetime) -> str:
    body = _b64(SEP.join([case_id, reporter, link_id, str(int(expires_at.timestamp()))]).encode())
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: bytes, token: str, now: datetime | None = None) -> LinkClaim:
    """The claim of a genuine, unexpired token; LinkRefused otherwise (revocation is PostgreSQL's to say)."""
    body, dot, signature = token.partition(".")
    if len(token) > MAX_TOKEN or not dot or not body or not signature:
        raise LinkRefused(403, "invalid", "this link is not complete: copy the whole link from the message")
    if not hmac.compare_digest(signature.encode(), _sign(secret, body).encode()):  # any text a URL carries
        raise LinkRefused(403, "invalid", "this link is not valid (it was altered or not made by us)")
    try:
        case_id, reporter, link_id, expires = _unb64(body).decode().split(SEP)
        expires_at = datetime.fromtimestamp(int(expires), timezone.utc)
    except (ValueError, UnicodeDecodeError):
        raise LinkRefused(403, "invalid", "this link is not valid") from None
    if (now or datetime.now(timezone.utc)) >= expires_at:
        raise LinkRefused(410, "expired", "this link has expired: ask customer service for a new one")
    return LinkClaim(case_id=case_id, reporter=reporter, link_id=link_id, expires_at=expires_at)
