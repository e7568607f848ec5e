"""Signing the Web UI in: a page that turns a personal token (or an OIDC JWT) into the cookie the codec
endpoint reads, for a Temporal Web UI that has no sign-in of its own (the embedded stack's).

    GET  /signin     the form, and how to point the Web UI at the codec endpoint
    POST /signin     token=… → the `crisis_session` cookie (HttpOnly, SameSite=Lax, Path=/codec)
    POST /signout    the cookie cleared

The cookie is sent only to `/codec/*` (its path), and only by the browser: the UI calls the codec
endpoint with "include cross-origin credentials" on (its Data Encoder settings). A token is checked
before it is set; it is never logged.
"""

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.credentials import CredentialRefused
from crisisdesk.logs import log
from crisisdesk.settings import Settings
from starter.auth import SESSION_COOKIE, Authenticator
from starter.bodies import read_form

SESSION_SECONDS = 12 * 3600
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>crisisdesk · sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.4rem}} .note{{color:#333}} .ok{{color:#064}} .err{{color:#a00}}</style></head>
<body><h1>Sign in for the Web UI</h1>{message}
<form method="post" action="/signin"><label for="token">Personal token (<code>crisis users add</code>) or OIDC token</label><br>
<input id="token" name="token" type="password" autocomplete="off" size="40" required> <button type="submit">Sign in</button></form>
<p class="note">Then, in the Temporal Web UI, open <em>Settings → Data Encoder</em>, set the codec endpoint to
<code>{codec}</code> and turn on <em>Include cross-origin credentials</em>: every action you send there is
stamped with your name, and the case checks it.</p>
<form method="post" action="/signout"><button type="submit">Sign out</button></form></body></html>"""


def _page(codec: str, message: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(codec=html.escape(codec), message=message), status_code=status,
                        headers={"Cache-Control": "no-store"})


def signin_router(settings: Settings, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(tags=["sign-in"])

    def codec_url(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/codec"

    @router.get("/signin", response_class=HTMLResponse, operation_id="signin_page")
    async def signin_page(request: Request) -> HTMLResponse:
        """The sign-in form for the Web UI's codec endpoint."""
        return _page(codec_url(request))

    @router.post("/signin", response_class=HTMLResponse, operation_id="signin")
    async def signin(request: Request) -> HTMLResponse:
        """Check the token, then set the session cookie the codec endpoint reads."""
        token = (await read_form(request)).get("token", "").strip()
        try:
            who = await authenticator.authenticate(token)
        except CredentialRefused as refused:
            log.warning("sign-in refused", reason=str(refused))
            return _page(codec_url(request), f'<p class="err">Not signed in: {html.escape(str(refused))}</p>', 401)
        log.info("signed in for the Web UI", person=who.person_id)
        response = _page(codec_url(request), f'<p class="ok">Signed in as {html.escape(who.display_name)}.</p>')
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, path="/codec", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    @router.post("/signout", response_class=HTMLResponse, operation_id="signout")
    async def signout(request: Request) -> HTMLResponse:
        response = _page(codec_url(request), '<p class="ok">Signed out.</p>')
        response.delete_cookie(SESSION_COOKIE, path="/codec")
        return response

    del settings
    return router
