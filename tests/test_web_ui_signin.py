"""Issue 20, items 3 and 8: people sign the real Temporal Web UI in, and the case knows who acts.

The stack is the one a user runs, with authentication on: `crisis dev` with CRISIS_AUTH=tokens (sealed by
default), people added to its PostgreSQL with `crisis users add` (a head, an operator, and a lead who
opens a crisis case over HTTP naming the head). Then, in Chromium, as people do it:

1. The head signs in on the API's /signin page, sets the Web UI's Codec Server settings (the icon at the
   top right: this browser's endpoint, "Include cross-origin credentials"), and the sign-in cookie reaches
   /codec/encode cross-origin (CORS with credentials).
2. The head acknowledges through More Actions -> Send an Update: accepted.
3. In the same browser the head signs out and the operator signs in: their UI reads the case sheet (the
   codec endpoint decodes for them only what the UI needs, never the intake), their `note` is accepted,
   their `decide_plan` in the head's name is refused with one sentence in the dialog, and a `note` sent
   through Send a Signal is stamped too.
4. Over the API (the head's token) the timeline shows each with the identity the codec endpoint vouched for.
5. A browser nobody signed in: the codec endpoint answers 401 (contract version 3), nothing decodes and nothing
   reaches the case; the UI says so in its own words ("Data encoding failed", "Codec Server could not connect"),
   and the endpoint its Codec Server settings name, opened in the browser, is the sign-in page.

Chromium comes from Debian (tests/helpers/web_ui.py `chromium_path`); never `playwright install`.
Screenshots go to tests/artifacts/web-ui/; with CRISIS_DOC_SCREENSHOTS=1 the guide's two pictures
(docs/access.md) are rewritten in docs/img/.
"""

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio

from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess
from tests.helpers.directory import add_user
from tests.helpers.web_ui import (
    Steps, apply_codec_settings, for_guide, open_update_dialog, read_sheet, send_update, sign_in,
    update_dialog, use_codec_with_credentials,
)
from tests.helpers.web_ui_stack import browser, chromium, page  # noqa: F401 (fixtures: a fresh context, no cookie)

try:
    from playwright.async_api import Page, Request, Response, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui_signin.py needs Playwright's Python package (the `dev` extra): {err}") from err

PEOPLE = {"head": ("wang-head", ["head"]), "operator": ("liu-op", ["operator"]),
          "lead": ("zhao-lead", ["operator", "manager"])}
REPORTER_CONTACT = "zhang.san@example.com"  # personal data: never decoded for the operator
PLAN = {"summary": "Repair the roof", "department": "engineering"}
SOURCE_PATH = re.compile(r'File "|\.py\b|Traceback|line \d+')


@dataclass
class Stack:
    info: dict  # stack.json
    tokens: dict[str, str]  # role in PEOPLE -> personal token

    @property
    def api(self) -> str:
        return self.info["api_url"]

    @property
    def ui(self) -> str:
        return self.info["ui_url"]

    @property
    def codec(self) -> str:
        return self.info["codec_url"]

    def person(self, who: str) -> str:
        return PEOPLE[who][0]

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory) -> AsyncIterator[Stack]:
    """`crisis dev` with CRISIS_AUTH=tokens on free ports (sealed with its own key), and the directory."""
    dev = DevStackProcess(tmp_path_factory.mktemp("ui-signin"), env={"CRISIS_AUTH": "tokens", "CRISIS_ENCRYPTION_KEY": None})
    try:
        info = await dev.wait_ready()
        banner = dev.output()
        # With authentication on, the banner says where to sign in and what to set in the UI.
        assert f"sign in at {info['api_url']}/signin" in banner, banner[-2500:]
        assert "Include cross-origin credentials" in banner and info["codec_url"] in banner
        tokens = {}
        for who, (person, roles) in PEOPLE.items():
            flags = [f for role in roles for f in ("--role", role)]
            tokens[who] = await asyncio.to_thread(add_user, info["database_url"], person, *flags)
        yield Stack(info, tokens)
    finally:
        code = dev.stop()
        assert code == 0, f"crisis dev exited {code}:\n{dev.output()[-3000:]}"


# -------------------------------------------------------------------------------------- helpers

async def open_crisis(stack: Stack) -> str:
    """The lead opens a crisis case over HTTP, naming the head (an intake's roles need projects:manage)."""
    intake = {"intake_id": f"signin-{uuid.uuid4().hex[:8]}", "summary": "Roof leak at 3-201", "potential_crisis": True,
              "reporter": {"name": "Zhang San", "contact": REPORTER_CONTACT, "role": "owner"},
              "roles": {"head": stack.person("head")}}
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        opened = await http.post("/intakes", json=intake, headers=stack.bearer("lead"))
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        # The case is open once its timeline answers (the alert to the head is its first step).
        await eventually(lambda: http.get(f"/cases/{case_id}/timeline", headers=stack.bearer("head")),
                         lambda r: r.status_code == 200 and any(e["kind"] == "stage" for e in r.json()), timeout=20)
    return case_id


async def timeline(stack: Stack, case_id: str) -> list[dict]:
    """The case's timeline over the API, as the head reads it."""
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        answer = await http.get(f"/cases/{case_id}/timeline", headers=stack.bearer("head"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def open_case_page(page: Page, stack: Stack, case_id: str) -> None:
    await page.goto(f"{stack.ui}/namespaces/default/workflows/{case_id}")
    await expect(page.get_by_role("heading", name=case_id)).to_be_visible()


def refusal_is_one_sentence(text: str | None) -> str:
    assert text and "\n" not in text.strip() and not SOURCE_PATH.search(text), text
    return text


class CodecCalls:
    """What the page sends to the codec endpoint and gets back."""

    def __init__(self, page: Page, codec: str) -> None:
        self.encodes: list[Request] = []
        self.decodes: list[Response] = []
        page.on("request", lambda r: self.encodes.append(r) if r.url.startswith(f"{codec}/encode") else None)
        page.on("response", lambda r: self.decodes.append(r) if r.url.startswith(f"{codec}/decode") else None)

    async def decoded_text(self) -> str:
        """Every payload the codec endpoint answered, in clear where it gave it in clear."""
        texts = []
        for response in self.decodes:
            if response.status != 200:
                continue
            try:
                body = await response.json()
            except Exception:  # a body the browser no longer holds (the page moved on)
                continue
            texts += [base64.b64decode(p.get("data", "")).decode("utf-8", "replace") for p in body.get("payloads", [])]
        return "\n".join(texts)


# ---------------------------------------------------------------------------------------- tests

async def test_people_sign_the_web_ui_in_and_the_case_records_who_acted(stack: Stack, page: Page):
    case_id = await open_crisis(stack)
    head, operator = stack.person("head"), stack.person("operator")
    step = Steps(page, "signin")
    calls = CodecCalls(page, stack.codec)

    async with step("a-wrong-token-is-refused"):
        said = await sign_in(page, stack.api, "cdk_not_a_token")
        assert said.startswith("Not signed in:"), said

    async with step("head-signs-in"):
        assert await sign_in(page, stack.api, stack.tokens["head"]) == f"Signed in as {head}."
        # The page says what to set in the UI, in the UI's words, and links to the stack's UI.
        text = await page.inner_text("body")
        assert "Codec Server" in text and "Include cross-origin credentials" in text and stack.codec in text, text
        await expect(page.get_by_role("link", name=stack.ui)).to_be_visible()
        await for_guide(page.locator("body"), "08-signin-page", True)

    async with step("codec-server-settings"):
        await page.goto(f"{stack.ui}/namespaces/default/workflows")  # any page of the UI: the icon is on each
        dialog = await use_codec_with_credentials(page, stack.codec)
        stored = await apply_codec_settings(page, dialog)
        # What the UI keeps in the browser (src/lib/stores/data-encoder-config.ts), as docs/access.md says.
        assert (stored["endpoint"], stored["includeCredentials"], stored["overrideRemoteCodecConfiguration"]) == (
            json.dumps(stack.codec), "true", "true"), stored

    async with step("head-acknowledges"):
        await open_case_page(page, stack, case_id)
        await expect(page.get_by_test_id("data-encoder-status-success")).to_be_visible()  # the head decodes
        assert await send_update(page, "acknowledge", {"by": head}) is None
        # The cookie went with the UI's cross-origin call, and the codec endpoint allowed it (CORS with credentials).
        [encode] = calls.encodes
        sent, answer = await encode.all_headers(), await encode.response()
        assert sent["origin"] == stack.ui and "crisis_session=" in sent.get("cookie", ""), sent
        assert answer is not None and answer.status == 200
        allowed = await answer.all_headers()
        assert allowed["access-control-allow-origin"] == stack.ui and allowed["access-control-allow-credentials"] == "true"
        assert REPORTER_CONTACT in await calls.decoded_text()  # the head (payload:decode) reads the intake whole

    async with step("operator-signs-in"):
        await page.goto(f"{stack.api}/signin")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_text("Signed out.")).to_be_visible()
        assert await sign_in(page, stack.api, stack.tokens["operator"]) == f"Signed in as {operator}."
        calls.decodes.clear()
        await open_case_page(page, stack, case_id)
        # The operator (no payload:decode) reads the case sheet; the codec endpoint keeps the intake sealed.
        await page.get_by_text("User Metadata", exact=True).click()
        sheet = await read_sheet(page)
        assert sheet.stage == "planning", sheet.text
        await expect(page.get_by_test_id("data-encoder-status-success")).to_be_visible()

    async with step("operator-notes"):
        assert await send_update(page, "note", {"by": operator, "text": "seen on site: two flats wet"}) is None

    async with step("operator-decides-in-the-heads-name"):
        async def picture(dialog) -> None:
            await for_guide(dialog, "09-refusal-not-in-your-name", True)

        refusal = refusal_is_one_sentence(await send_update(page, "decide_plan", {"by": head, **PLAN}, on_refused=picture))
        assert refusal == (f"decide_plan: you are signed in as {operator}, and people act only in their own name: "
                           f"`by` must be {operator}"), refusal

    async with step("operator-signals-a-note"):
        assert await send_update(page, "note", {"by": operator, "text": "sent as a signal"}, kind="signal") is None

    decoded = await calls.decoded_text()
    assert "Stage" in decoded and REPORTER_CONTACT not in decoded and "Zhang San" not in decoded

    # 4. What the case recorded, over the API with the head's token.
    def actions(events: list[dict]) -> list[tuple]:
        return [(e["kind"], e["name"], e["by"], e["detail"].get("via"), e["detail"].get("identity"))
                for e in events if e["kind"] in ("action", "rejected")]

    events = await eventually(lambda: timeline(stack, case_id), lambda ev: len(actions(ev)) == 4, timeout=15)
    assert actions(events) == [
        ("action", "acknowledge", head, "ui-update", head),
        ("action", "note", operator, "ui-update", operator),
        ("rejected", "decide_plan", head, "ui-update", operator),
        ("action", "note", operator, "ui-signal", operator),
    ], actions(events)
    [rejected] = [e for e in events if e["kind"] == "rejected"]
    assert "people act in their own name" in rejected["detail"]["reason"]
    assert not any(e["kind"] == "action" and e["name"] == "decide_plan" for e in events)


async def test_a_web_ui_nobody_signed_in_gets_nothing_and_its_settings_lead_to_the_sign_in(stack: Stack, page: Page):
    """A fresh browser: the UI calls the codec endpoint the stack configured, without a cookie. The codec endpoint
    answers 401 (contract version 3: both routes need a credential), so nothing decodes and nothing is sent; the
    UI says so in its own words, and the address its Codec Server settings name leads to the sign-in."""
    case_id = await open_crisis(stack)
    step = Steps(page, "nobody-signed-in")
    calls = CodecCalls(page, stack.codec)

    async with step("nothing-decodes"):
        await open_case_page(page, stack, case_id)
        await expect(page.get_by_test_id("data-encoder-status-error")).to_be_visible()  # "Codec Server could not connect"
        assert calls.decodes and {r.status for r in calls.decodes} == {401}  # no credential: no personal data

    async with step("nothing-is-sent"):
        # Nothing decodes, so the dialog lists no names: the person types one.
        dialog = await open_update_dialog(page)
        await dialog.locator("#update-name").fill("note")
        await dialog.get_by_role("textbox", name="Data").click()
        await page.keyboard.insert_text(json.dumps({"by": stack.person("operator"), "text": "typed without signing in"}))
        await dialog.get_by_test_id("update-id").fill(f"ui-nobody-{uuid.uuid4().hex[:8]}")
        await dialog.get_by_role("button", name="Submit").click()
        failed = dialog.locator('p[role="alert"]')  # the dialog's own error line (a case's refusal is a div.error)
        await expect(failed).to_be_visible()
        assert refusal_is_one_sentence((await failed.inner_text()).strip()) == "Data encoding failed"  # the UI's words
        await dialog.get_by_test_id("cancel-modal-button").click()
        await expect(update_dialog(page)).to_be_hidden()
        [encode] = calls.encodes
        assert (await encode.response()).status == 401

    async with step("the-settings-lead-to-the-sign-in"):
        # The Codec Server settings show the stack's endpoint; opened in the browser, it is the sign-in page.
        await page.get_by_test_id("data-encoder-status-error").click()
        settings = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Codec Server"))
        await expect(settings.get_by_text(stack.codec, exact=True)).to_be_visible()
        await page.goto(stack.codec)
        await expect(page.get_by_role("heading", name="Sign in for the Web UI")).to_be_visible()
        assert page.url == f"{stack.api}/signin"

    events = await timeline(stack, case_id)
    assert not [e for e in events if e["kind"] in ("action", "rejected")], events  # nothing reached the case
