"""The operator's path through the real Temporal Web UI, in a real (headless) browser.

An operator finds a case in the Web UI's workflow list with a search-attribute query, opens it, and
triages it with *More Actions → Send an Update* (docs/operators.md). The test drives exactly that with
Playwright and Debian's Chromium, then checks the case through the `status` query.

- The session's Temporal server (conftest) runs without the UI, so this module starts its own dev
  server with the Web UI on a free port, and a worker from the production factory on it.
- Chromium comes from Debian (`tools/install-system-packages.sh`, which `make test` runs; run here too when it is missing). Playwright's
  own browser download does not work on these machines: never `playwright install`.
- Missing tools fail the test loudly; it never skips.
- Screenshots of every step go to tests/artifacts/web-ui/ (git-ignored); on a failure the page's URL
  and text and the browser console are printed.
"""

import contextlib
import json
import re
import shutil
import time
import subprocess
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from crisisdesk.converter import data_converter
from crisisdesk.models.case import CaseStatus
from crisisdesk.models.intake import Intake
from crisisdesk.names import SEARCH_ATTRIBUTES, case_id_for
from starter.stack import free_port, temporal_binary
from tests.helpers import ORDINARY_CLOSURE, eventually
from worker import build_worker

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui.py needs Playwright's Python package (pip install playwright; "
                      f"the `dev` extra of pyproject.toml): {err}") from err

ROOT = Path(__file__).resolve().parent.parent
INSTALL_BROWSER = ROOT / "tools" / "install-system-packages.sh"
ARTIFACTS = ROOT / "tests" / "artifacts" / "web-ui"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
UI_TIMEOUT_MS = 20_000  # the UI is a single-page app that loads data after the page: be generous
TRIAGE = '{"by":"Chen CS","severity":"urgent","category":"safety"}'


# ------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; installed with tools/install-system-packages.sh when missing, else the test fails."""
    path = shutil.which("chromium")
    if path is None:
        done = subprocess.run(["bash", str(INSTALL_BROWSER), "chromium"], capture_output=True, text=True, timeout=600)
        path = shutil.which("chromium")
        if path is None:
            pytest.fail(f"chromium is missing and {INSTALL_BROWSER.relative_to(ROOT)} could not install it "
                        f"(exit {done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui_env() -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A dev server of its own with the Web UI; yields it and the UI's base URL once the UI answers."""
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        ui=True,
        ui_port=ui_port,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=data_converter(),
        dev_server_log_level="error",
    )
    base = f"http://127.0.0.1:{ui_port}"
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            async def ui_status() -> int:
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get(base)).status_code
                return 0

            await eventually(ui_status, lambda code: code == 200, timeout=30.0, interval=0.2)
        yield env, base
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def ui_worker(ui_env, settings, pool, task_queue):
    env, _ = ui_env
    async with build_worker(env.client, settings, pool, task_queue) as w:
        yield w


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    p = await context.new_page()
    p.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    p.console_lines = []  # type: ignore[attr-defined]
    p.on("console", lambda m: p.console_lines.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
    try:
        yield p
    finally:
        await context.close()


# -------------------------------------------------------------------------------------- helpers

class Steps:
    """Each step ends with a screenshot; a failing step also dumps the page for diagnosis."""

    def __init__(self, page: Page) -> None:
        self.page, self.n = page, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):  # only this run's screenshots, none left from an earlier one
            old.unlink()

    @contextlib.asynccontextmanager
    async def __call__(self, name: str):
        self.n += 1
        shot = ARTIFACTS / f"{self.n:02d}-{name}.png"
        started = time.monotonic()
        try:
            yield
        except BaseException:
            failed = shot.with_name(f"{self.n:02d}-{name}-FAILED.png")
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
        print(f"web-ui step {self.n:02d} {name}: {time.monotonic() - started:.1f}s")


async def start_case(client: Client, task_queue: str, project: str, **fields) -> WorkflowHandle:
    intake = Intake.model_validate({
        "intake_id": f"ui-{uuid.uuid4().hex[:10]}",
        "channel": "phone",
        "summary": "Water leaking through the ceiling after handover",
        "severity": "important",
        "reporter": {"name": "Zhang San", "contact": "zhang.san@example.com", "role": "owner"},
        "project": {"id": project, "name": "Web UI Court", "region": "east"},
        "roles": {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS"},
        **fields,
    })
    return await client.start_workflow("CrisisWorkflow", intake, id=case_id_for(intake.intake_id),
                                       task_queue=task_queue, result_type=CaseStatus)


async def status_of(handle: WorkflowHandle) -> CaseStatus:
    async def probe():
        try:
            return await handle.query("status", result_type=CaseStatus)
        except Exception:  # "the case is opening; ask again in a moment"
            return None

    return await eventually(probe, lambda s: s is not None, timeout=15.0)


async def listed(client: Client, query: str) -> set[str]:
    return {wf.id async for wf in client.list_workflows(query)}


def update_option(dialog, name: str):
    """The Update dialog's option for one handler: its accessible name is the handler's name followed
    by its description."""
    return dialog.get_by_role("option", name=re.compile(rf"^{re.escape(name)}(\s|$)"))


async def send_update(page: Page, name: str, payload: dict) -> None:
    """More Actions -> Send an Update -> pick the name, paste the JSON, submit, wait for the toast."""
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name="Send an Update").click()
    dialog = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Send an Update"))
    await expect(dialog).to_be_visible()
    await dialog.get_by_test_id("update-select-button").click()
    await update_option(dialog, name).click()
    await dialog.get_by_role("textbox", name="Data").click()
    await page.keyboard.press("Control+A")  # the dialog remembers the previous update's data
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(json.dumps(payload))  # insert, not type: the editor auto-closes braces
    await dialog.get_by_test_id("update-id").fill(f"ui-{name}-{uuid.uuid4().hex[:8]}")  # lets the editor reformat
    await expect(dialog.get_by_role("textbox", name="Data")).to_contain_text('"by"')
    await dialog.get_by_role("button", name="Submit").click()
    await expect(page.get_by_text("Update successful").first).to_be_visible()
    await expect(dialog).to_be_hidden()


# ---------------------------------------------------------------------------------------- test

async def test_operator_finds_a_case_and_triages_it_in_the_web_ui(ui_env, ui_worker, task_queue, page: Page):
    env, base = ui_env
    t0 = time.monotonic()
    case = await start_case(env.client, task_queue, "P-UI-1")
    other = await start_case(env.client, task_queue, "P-UI-2")  # must not match the query
    before = await status_of(case)
    assert before.stage == "reported" and before.severity == "important"

    query = "CrisisProject = 'P-UI-1'"
    # The search attributes are upserted after the case opens: wait for visibility, not for the UI.
    await eventually(lambda: listed(env.client, query), lambda ids: case.id in ids, timeout=15.0)
    print(f"web-ui: cases started and listed in {time.monotonic() - t0:.1f}s")
    step = Steps(page)

    async with step("workflows-filtered-by-project"):
        await page.goto(f"{base}/namespaces/default/workflows?query={urllib.parse.quote(query)}")
        row_link = page.get_by_role("link", name=case.id, exact=True)
        await expect(row_link).to_be_visible()
        await expect(page.get_by_role("link", name=other.id, exact=True)).to_have_count(0)

    async with step("workflow-page"):
        await row_link.click()
        await expect(page.get_by_role("heading", name=case.id)).to_be_visible()
        actions = page.get_by_role("button", name="More Actions")
        await expect(actions).to_be_enabled()

    async with step("more-actions-menu"):
        await actions.click()
        send_update = page.get_by_role("menuitem", name="Send an Update")
        await expect(send_update).to_be_visible()

    async with step("update-dialog"):
        await send_update.click()
        dialog = page.get_by_role("dialog").filter(has=page.get_by_role("heading", name="Send an Update"))
        await expect(dialog).to_be_visible()

    async with step("update-name-triage"):
        # The Name field lists the update handlers the worker reports. It is a button wrapping a disabled
        # input labelled "Name", so it has no accessible name of its own: its test id is the stable handle.
        await dialog.get_by_test_id("update-select-button").click()
        triage = update_option(dialog, "triage")
        # Each option carries the handler's description: what it does, who may, which fields.
        await expect(triage).to_contain_text("Fields:")
        await triage.click()
        await expect(dialog.get_by_test_id("update-select")).to_have_value("triage")

    async with step("update-data-filled"):
        data = dialog.get_by_role("textbox", name="Data")  # a CodeMirror editor (contenteditable)
        await data.click()
        # insert_text, not typing: the editor would auto-close the braces and quotes typed one by one.
        await page.keyboard.insert_text(TRIAGE)
        # A fixed update id makes a second press of Submit harmless (the server deduplicates by id), and
        # moving the focus lets the editor reformat the JSON before Submit is pressed: otherwise the
        # reformat moves the button out from under the first click.
        await dialog.get_by_test_id("update-id").fill(f"ui-triage-{uuid.uuid4().hex[:8]}")
        await expect(data).to_contain_text('"severity": "urgent"')
        submit = dialog.get_by_role("button", name="Submit")
        await expect(submit).to_be_enabled()

    async with step("update-submitted"):
        await submit.click()
        await expect(page.get_by_text("Update successful").first).to_be_visible()  # the toast
        await expect(dialog).to_be_hidden()

    after = await status_of(case)
    assert (after.stage, after.severity, after.category) == ("solving", "urgent", "safety"), after
    assert after.path == "ordinary"
    assert (await status_of(other)).stage == "reported"  # the other case was not touched


async def test_an_operator_takes_a_case_to_closure_with_the_web_ui_alone(ui_env, ui_worker, task_queue, page: Page):
    """Every action from triage to review through the Update dialog; nothing but the browser acts."""
    env, base = ui_env
    case = await start_case(env.client, task_queue, "P-UI-3")
    await status_of(case)
    step = Steps(page)
    async with step("closure-workflow-page"):
        await page.goto(f"{base}/namespaces/default/workflows/{case.id}")
        await expect(page.get_by_role("heading", name=case.id)).to_be_visible()
    for number, (name, payload) in enumerate(ORDINARY_CLOSURE, 1):
        async with step(f"closure-{name}"):
            await send_update(page, name, payload)
            await eventually(lambda: status_of(case), lambda s, n=number: s.counts.get("actions", 0) >= n)
    final = await case.result()
    assert final.stage == "closed" and final.counts["actions"] == len(ORDINARY_CLOSURE)
