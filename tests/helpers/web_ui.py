"""Driving the Temporal Web UI (2.54) with Playwright: the Update dialog and the case sheet.

The UI's handles used here, found by looking at it: the Update dialog's name field is a button with
test id `update-select-button` whose options are named by the handler and its description (the Signal
dialog's: `signal-select-button`); Data is a CodeMirror editor; a refusal is a `div[role=alert].error` in
the dialog; User Metadata -> Current Details renders the case sheet's Markdown in an iframe, refreshed by
the R key. The Codec Server settings (the icon at the top right, test id `data-encoder-status…`) are a
dialog with two radios, the browser endpoint and the "Include cross-origin credentials" switch.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "web-ui"
DOC_IMAGES = ROOT / "docs" / "img"
UI_TIMEOUT_MS = 20_000  # the UI is a single-page app that loads data after the page: be generous
INSTALL_BROWSER = ROOT / "tools" / "install-system-packages.sh"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


def chromium_path() -> str:
    """Debian's chromium; installed with tools/install-system-packages.sh when missing, else the test fails
    (never `playwright install`: its download fails here)."""
    import pytest

    path = shutil.which("chromium")
    if path is None:
        done = subprocess.run(["bash", str(INSTALL_BROWSER), "chromium"], capture_output=True, text=True, timeout=600)
        path = shutil.which("chromium")
        if path is None:
            pytest.fail(f"chromium is missing and {INSTALL_BROWSER.relative_to(ROOT)} could not install it "
                        f"(exit {done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return path


class Steps:
    """Each step ends with a screenshot; a failing step also dumps the page for diagnosis."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page, self.prefix, self.n = page, prefix, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{prefix}-*.png"):  # only this run's screenshots
            old.unlink()

    @contextlib.asynccontextmanager
    async def __call__(self, name: str):
        self.n += 1
        shot = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{name}.png"
        started = time.monotonic()
        try:
            yield
        except BaseException:
            failed = shot.with_name(shot.stem + "-FAILED.png")
            with contextlib.suppress(Exception):
                await self.page.screenshot(path=failed, full_page=True)
            text = "<unreadable>"
            with contextlib.suppress(Exception):
                text = await self.page.inner_text("body", timeout=2000)
            console = "\n".join(getattr(self.page, "console_lines", [])[-30:])
            print(f"\n=== Web UI step {name!r} failed at {self.page.url}\n--- screenshot: {failed}\n"
                  f"--- page text:\n{text}\n--- browser console (last 30):\n{console}\n===")
            raise
        await self.page.screenshot(path=shot)
        print(f"web-ui {self.prefix} step {self.n:02d} {name}: {time.monotonic() - started:.1f}s")


async def for_guide(target: Page | Locator, name: str, enabled: bool) -> None:
    """A picture for docs/operators.md, when asked for (CRISIS_DOC_SCREENSHOTS=1)."""
    if os.environ.get("CRISIS_DOC_SCREENSHOTS") and enabled:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        page = target if isinstance(target, Page) else target.page
        with contextlib.suppress(AssertionError):  # a lingering toast would cover the sheet
            await expect(page.get_by_text("Update successful")).to_have_count(0, timeout=10_000)
        await target.screenshot(path=DOC_IMAGES / f"{name}.png")


def metadata_panels(page: Page) -> Locator:
    """The User Metadata tab's panels: Summary, Details and Current Details (the case sheet)."""
    return (page.locator("div").filter(has=page.get_by_role("heading", name="Summary", exact=True))
            .filter(has=page.get_by_role("heading", name="Current Details", exact=True)).last)


def update_option(dialog: Locator, name: str) -> Locator:
    """The Update dialog's option for one handler: its accessible name is the handler's name followed
    by its description."""
    return dialog.get_by_role("option", name=re.compile(rf"^{re.escape(name)}(\s|$)"))


def _dialog(page: Page, title: str) -> Locator:
    return page.get_by_role("dialog").filter(has=page.get_by_role("heading", name=title))


async def _open_dialog(page: Page, title: str) -> Locator:
    """*More Actions* -> `title`: the dialog, once it shows."""
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name=title).click()
    dialog = _dialog(page, title)
    await expect(dialog).to_be_visible()
    return dialog


def update_dialog(page: Page) -> Locator:
    return _dialog(page, "Send an Update")


async def open_update_dialog(page: Page) -> Locator:
    return await _open_dialog(page, "Send an Update")


def signal_dialog(page: Page) -> Locator:
    return _dialog(page, "Send a Signal")


async def open_signal_dialog(page: Page) -> Locator:
    return await _open_dialog(page, "Send a Signal")


async def fill_update(page: Page, dialog: Locator, name: str, data: str, kind: str = "update") -> None:
    await dialog.get_by_test_id(f"{kind}-select-button").click()
    await update_option(dialog, name).click()
    await expect(dialog.get_by_test_id(f"{kind}-select")).to_have_value(name)
    editor = dialog.get_by_role("textbox", name="Data")  # a CodeMirror editor (contenteditable)
    await editor.click()
    await page.keyboard.press("Control+A")  # the dialog remembers the previous update's data
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(data)  # insert, not type: the editor auto-closes braces and quotes
    # A fixed update id makes a second press of Submit harmless (the server deduplicates by id), and moving
    # the focus lets the editor reformat the JSON before Submit is pressed.
    if kind == "update":
        await dialog.get_by_test_id("update-id").fill(f"ui-{name}-{uuid.uuid4().hex[:8]}")
    else:  # a signal has no id: move the focus to the editor's hint
        await dialog.get_by_text("Single JSON payload supported.").click()
    squeezed = re.sub(r"\s", "", data)  # the editor reformats what was pasted: compare without blanks
    await eventually(editor.inner_text, lambda text: re.sub(r"\s", "", text) == squeezed, timeout=10.0)


async def send_update(page: Page, name: str, payload: dict | str,
                      on_refused: Callable[[Locator], Awaitable[None]] | None = None, kind: str = "update") -> str | None:
    """More Actions -> Send an Update -> the name, the JSON, Submit. None when the case accepted it, else
    the refusal the dialog shows (the dialog is then closed with Cancel). `kind="signal"`: the same through
    Send a Signal (None once the server took it: a signal has no answer from the case)."""
    dialog = await (open_update_dialog(page) if kind == "update" else open_signal_dialog(page))
    await fill_update(page, dialog, name, payload if isinstance(payload, str) else json.dumps(payload), kind)
    await dialog.get_by_role("button", name="Submit").click()
    refusal = dialog.locator('div[role="alert"].error')

    async def outcome() -> str:  # the dialog closes on success (a toast may linger from the step before)
        if await refusal.count() and await refusal.first.is_visible():
            return "refused"
        return "open" if await dialog.is_visible() else "accepted"

    if await eventually(outcome, lambda o: o != "open", timeout=UI_TIMEOUT_MS / 1000, interval=0.1) == "accepted":
        return None
    if on_refused:
        await on_refused(dialog)
    text = (await refusal.first.inner_text()).strip()
    await dialog.get_by_test_id("cancel-modal-button").click()
    await expect(dialog).to_be_hidden()
    return text


# --- the case sheet as the UI shows it -------------------------------------------------------------

TURN = re.compile(r"Whose turn:\s*(?P<role>[^\s(.]+)(?:\s*\((?P<person>[^)]*)\))?")
# An open action's line, then its input as the Web UI's editor leaves it (indented JSON in a code block).
STEP = re.compile(r"^\W*(?P<name>[a-z_]+): [^\n]*\n+(?P<example>\{\n.*?\n\})", re.M | re.S)
STAGE = re.compile(r"Stage\s+(?P<stage>[a-z_]+)")


@dataclass
class Sheet:
    text: str

    @property
    def stage(self) -> str:
        return STAGE.search(self.text)["stage"]

    @property
    def role(self) -> str | None:
        """The case role whose turn it is ("department", "head"…)."""
        found = TURN.search(self.text)
        return found["role"] if found else None

    @property
    def person(self) -> str | None:
        """Whose turn it is, when the sheet names a person (not only a role)."""
        found = TURN.search(self.text)
        person = found and found["person"]
        return person if person and ":" not in person else None

    @property
    def steps(self) -> list[tuple[str, dict]]:
        return [(m["name"], json.loads(m["example"])) for m in STEP.finditer(self.text)]


def sheet_frame(page: Page) -> Locator:
    """The Current Details column: the UI renders the Markdown in a sandboxed iframe."""
    heading = page.get_by_role("heading", name="Current Details", exact=True)
    return page.locator("div").filter(has=heading).filter(has=page.locator("iframe")).last


async def read_sheet(page: Page) -> Sheet:
    frame = sheet_frame(page).frame_locator("iframe")
    await expect(frame.locator("body")).to_contain_text("Stage")
    return Sheet(await frame.locator("body").inner_text())


async def sheet_after(page: Page, before: Sheet, timeout: float = 15.0) -> Sheet:
    """Press R (the UI's refresh of Current Details) until the sheet differs from `before`."""
    async def probe() -> Sheet:
        await page.keyboard.press("r")
        return await read_sheet(page)

    return await eventually(probe, lambda s: s.text != before.text, timeout=timeout, interval=0.5)


# --- signing the UI in (docs/access.md, "Signing the Web UI in") -------------------------------------------

async def sign_in(page: Page, api_url: str, token: str) -> str:
    """The API's /signin page, as a person uses it: the token pasted, Sign in; what the page then says."""
    await page.goto(f"{api_url}/signin")
    await page.get_by_label(re.compile("Personal token")).fill(token)
    await page.get_by_role("button", name="Sign in").click()
    said = page.locator("p.ok, p.err")
    await expect(said).to_have_count(1)
    return (await said.inner_text()).strip()


async def use_codec_with_credentials(page: Page, codec_url: str) -> Locator:
    """The Web UI's Codec Server settings (the icon at the top right), as a person sets them: this browser's
    own endpoint, cross-origin credentials included (the sign-in cookie). Returns the dialog, filled in,
    before Apply is pressed (for a picture); press it with `apply_codec_settings`."""
    await page.locator('[data-testid^="data-encoder-status"]').first.click()
    dialog = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Codec Server"))
    await expect(dialog).to_be_visible()
    await dialog.get_by_text("Use my browser setting").click()
    await dialog.get_by_label("Codec Server browser endpoint").fill(codec_url)
    await dialog.get_by_text("Include cross-origin credentials").click()
    await expect(dialog.get_by_role("switch", name="Include cross-origin credentials")).to_be_checked()
    return dialog


async def apply_codec_settings(page: Page, dialog: Locator) -> dict:
    """Apply; what the UI stored in the browser (its localStorage)."""
    await dialog.get_by_role("button", name="Apply").click()
    await expect(dialog).to_be_hidden()
    return await page.evaluate("Object.fromEntries(Object.entries(localStorage))")
