"""The pages an acknowledgement link shows: a confirmation with one button (the `GET`), and what the
button did (the `POST`). Every sentence a person reads here is in `WORDS`, ready for the message
catalogue; the pages name the person's directory id, the alert's kind and time and the case id, never
a name, contact or the case's summary.

The pages load nothing from elsewhere and send no referrer, so the link's token leaves the phone only
in the request that carries it; the button posts back to the same address, the token being the whole
credential (nothing a third site could forge without it, so no cookie and no CSRF token are needed).
"""

import html
from dataclasses import dataclass
from datetime import datetime

from fastapi.responses import HTMLResponse

from crisisdesk.words import stamp

WORDS = {
    "title": "Acknowledge the alert",
    "lead": "This link acknowledges an alert of case {case}, as {person}.",
    "alert": "The {kind} sent {at} UTC.",
    "alert_unknown": "An alert of this case.",
    "expires": "The link works once, until {at} UTC.",
    "button": "Acknowledge",
    "scanners": "Opening this page changed nothing: only the button acknowledges.",
    "done_title": "Acknowledged",
    "done": "Case {case}: {message}.",
    "refused_title": "Not acknowledged",
    "refused": "{reason}",
    "disabled": "Acknowledgement links are off on this server: acknowledge in the case instead.",
}
KINDS = {"alert": "alert", "reminder": "reminder", "escalated": "escalation", "escalation": "escalation"}

# Headers for every answer of /ack: not cached, not indexed, no referrer, nothing loaded from elsewhere.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
button{{font-size:1.2rem;padding:.6rem 1.6rem}} .quiet{{color:#555;font-size:.9rem}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


@dataclass(frozen=True)
class AlertSeen:
    """The notification a link came with, as the outbox recorded it."""

    kind: str
    at: datetime


def _p(text: str, quiet: bool = False) -> str:
    return f'<p{" class=quiet" if quiet else ""}>{html.escape(text)}</p>'


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status, headers=HEADERS)


def confirmation(case_id: str, person: str, expires_at: datetime, alert: AlertSeen | None) -> HTMLResponse:
    """The GET: who, which alert of which case, and the one button (a POST to this same address)."""
    seen = (WORDS["alert"].format(kind=KINDS.get(alert.kind, alert.kind), at=stamp(alert.at)) if alert
            else WORDS["alert_unknown"])
    body = "\n".join([
        _p(WORDS["lead"].format(case=case_id, person=person)),
        _p(seen),
        '<form method="post"><button type="submit">' + html.escape(WORDS["button"]) + "</button></form>",
        _p(WORDS["expires"].format(at=stamp(expires_at)), quiet=True),
        _p(WORDS["scanners"], quiet=True),
    ])
    return _page(200, WORDS["title"], body)


def acknowledged(case_id: str, message: str) -> HTMLResponse:
    return _page(200, WORDS["done_title"], _p(WORDS["done"].format(case=case_id, message=message.rstrip("."))))


def refused(status: int, reason: str) -> HTMLResponse:
    return _page(status, WORDS["refused_title"], _p(WORDS["refused"].format(reason=reason)))
