"""Signing the Web UI in: a page that turns a personal token (or an OIDC JWT) into the cookie the codec
endpoint reads, for a Temporal Web UI that has no sign-in of its own (the embedded stack's).

    GET  /signin     the form, and how to point the Web UI at the codec endpoint
    POST /signin     token=… → the `crisis_session` cookie (HttpOnly, SameSite=Lax, Path=/codec)
    POST /signout    the cookie cleared
    GET  /codec      → /signin: the address a Web UI that has not signed in shows (its Codec Server
                     settings name it), opened in the browser, leads to the form

The cookie is sent only to `/codec/*` (its path), and only by the browser: the UI calls the codec
endpoint with "Include cross-origin credentials" on (its Codec Server settings, stored in the browser).
SameSite=Lax: the browser sends it on the UI's calls only when the UI and the API are the same site,
so open both under the same host name (127.0.0.1, or localhost, not one of each). A token is checked
before it is set; it is never logged.

Every sentence a person reads on the page is in WORDS, ready for the message catalogue.
"""

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from activities.credentials import CredentialRefused
from crisisdesk.logs import log
from crisisdesk.settings import Settings
from starter.auth import SESSION_COOKIE, Authenticator
from starter.bodies import read_form
from starter.discovery import read_stack

SESSION_SECONDS = 12 * 3600
WORDS = {
    "title": "Sign in for the Web UI",
    "token": "Personal token (<code>crisis users add</code>) or OIDC token",
    "submit": "Sign in",
    "signout": "Sign out",
    "signed_in": "Signed in as {name}.",
    "signed_out": "Signed out.",
    "refused": "Not signed in: {reason}",
    # The Web UI 2.54's own words: the icon at the top right opens its "Codec Server" dialog.
    "settings": ("Then, in the Temporal Web UI, click the <em>Codec Server</em> icon at the top right, choose "
                 "<em>Use my browser setting and ignore Cluster-level setting</em>, enter <code>{codec}</code> as the "
                 "<em>Codec Server browser endpoint</em>, turn on <em>Include cross-origin credentials</em> and press "
                 "<em>Apply</em>. Every action you send there is then stamped with your name, and the case checks it. "
                 "Open the UI under the same host name as this page."),
    "open_ui": 'Open the Web UI: <a href="{ui}">{ui}</a>',
}
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>crisisdesk · sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.4rem}} .note{{color:#333}} .ok{{color:#064}} .err{{color:#a00}}</style></head>
<body><h1>{title}</h1>{message}
<form method="post" action="/signin"><label for="token">{token}</label><br>
<input id="token" name="token" type="password" autocomplete="off" size="40" required> <button type="submit">{submit}</button></form>
<p class="note">{settings}</p>{open_ui}
<form method="post" action="/signout"><button type="submit">{signout}</button></form></body></html>"""


def _page(codec: str, message: str = "", status: int = 200) -> HTMLResponse:
    stack = read_stack()  # beside `crisis dev`: its Web UI, to open once signed in
    ui = stack.get("ui_url") if stack else None
    body = PAGE.format(
        title=WORDS["title"], token=WORDS["token"], submit=WORDS["submit"], signout=WORDS["signout"], message=message,
        settings=WORDS["settings"].format(codec=html.escape(codec)),
        open_ui=f'<p>{WORDS["open_ui"].format(ui=html.escape(ui))}</p>' if isinstance(ui, str) and ui else "")
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


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
            message = WORDS["refused"].format(reason=html.escape(str(refused)))
            return _page(codec_url(request), f'<p class="err">{message}</p>', 401)
        log.info("signed in for the Web UI", person=who.person_id)
        message = WORDS["signed_in"].format(name=html.escape(who.display_name))
        response = _page(codec_url(request), f'<p class="ok">{message}</p>')
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, path="/codec", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    @router.get("/codec", include_in_schema=False)
    async def codec_home() -> RedirectResponse:
        """The codec endpoint opened in a browser (the Web UI names it when it cannot connect): the sign-in."""
        return RedirectResponse("/signin", status_code=303)

    @router.post("/signout", response_class=HTMLResponse, operation_id="signout")
    async def signout(request: Request) -> HTMLResponse:
        response = _page(codec_url(request), f'<p class="ok">{WORDS["signed_out"]}</p>')
        response.delete_cookie(SESSION_COOKIE, path="/codec")
        return response

    del settings
    return router
