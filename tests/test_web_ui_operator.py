"""The operator's day (issue 30) on the stack `make run` starts, in a real (headless) Chromium.

- The banner's "ready in" counts from when the person started it (`make run` passes CRISIS_STARTED_AT).
- A crisis intake for a project with no team: the alert reaches the embedded stack's own user (seated as the
  directory's admin), and the case sheet leads with seating the head, its `assign_role` ready to paste.
- That suggestion, copied from the sheet into the Update dialog as it stands, is sent by the first press of
  Submit (the dialog's editor reformats compact JSON on blur, and the first press was then lost), and the
  sheet's next suggestions are in the new head's name.
"""

import getpass
import json
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from activities.directory import save_person
from crisisdesk.converter import data_converter
from crisisdesk.models.case import CaseStatus
from crisisdesk.models.people import Person
from crisisdesk.settings import Settings
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess
from tests.helpers.web_ui import (
    CHROMIUM_ARGS, UI_TIMEOUT_MS, chromium_path, open_update_dialog, read_sheet, sheet_after, sheet_frame, update_option,
)

try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui_operator.py needs Playwright's Python package: {err}") from err

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAITED = 90.0  # seconds `make run` had been running before `crisis dev` started, as the test pretends


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory) -> AsyncIterator[tuple[DevStackProcess, dict, Client]]:
    dev = DevStackProcess(tmp_path_factory.mktemp("ui-operator"),
                          env={"CRISIS_ENCRYPTION_KEY": None, "CRISIS_STARTED_AT": f"{time.time() - WAITED:.3f}"})
    try:
        info = await dev.wait_ready()
        client = await Client.connect(info["temporal_address"],
                                      data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=dev.local_key)))
        yield dev, info, client
    finally:
        code = dev.stop()
        assert code == 0, f"crisis dev exited {code}:\n{dev.output()[-3000:]}"


@pytest_asyncio.fixture(loop_scope="session")
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


async def test_the_banner_counts_from_when_the_person_started_it(stack):
    dev, _, _ = stack
    ready = float(dev.output().split("ready in ", 1)[1].split(" s)", 1)[0])
    assert ready >= WAITED, dev.output()[-2000:]


async def test_a_crisis_with_no_team_reaches_the_local_admin_and_the_pasted_suggestion_is_sent_on_first_submit(
        stack, page: Page):
    dev, info, client = stack
    me, head = getpass.getuser(), f"head.{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(info["database_url"])
    try:
        assert me in [r["person_id"] for r in await conn.fetch(
            "SELECT person_id FROM people WHERE 'admin' = ANY(roles) AND disabled_at IS NULL")]
        await save_person(conn, Person(person_id=head, display_name="Head on call", roles=["head"]))
    finally:
        await conn.close()
    intake = {"intake_id": f"UI-{uuid.uuid4().hex[:8]}", "summary": "Roof collapsed over the sales office",
              "channel": "phone", "potential_crisis": True, "project": {"id": f"P-{uuid.uuid4().hex[:6]}"}}
    async with httpx.AsyncClient(base_url=info["api_url"], timeout=30) as http:
        answer = await http.post("/intakes", json=intake)
    assert answer.status_code == 201, answer.text
    case = client.get_workflow_handle(answer.json()["case_id"])

    async def alert_reached() -> list[str]:
        timeline = await case.query("timeline", result_type=list[dict])
        return [p for e in timeline if e["kind"] == "notification" and e["name"] == "alert" for p in e["detail"].get("people", [])]
    assert me in await eventually(alert_reached, lambda people: me in people, timeout=30)

    await page.goto(f"{info['ui_url']}/namespaces/default/workflows/{case.id}")
    await expect(page.get_by_role("heading", name=case.id)).to_be_visible()
    await page.get_by_text("User Metadata", exact=True).click()
    sheet = await eventually(lambda: read_sheet(page), lambda s: "seat the head now" in s.text, timeout=30)
    lead = sheet.text.split("Whose turn")[0]
    assert f"reached only {me}" in lead and "assign_role" in lead, sheet.text

    # The first suggestion, copied from the sheet as it stands, pasted, and Submit pressed once.
    block = (await sheet_frame(page).frame_locator("iframe").locator("pre").first.inner_text()).strip()
    assert json.loads(block) == {"by": me, "role": "head", "person": head}
    dialog = await open_update_dialog(page)
    await dialog.get_by_test_id("update-select-button").click()
    await update_option(dialog, "assign_role").click()
    editor = dialog.get_by_role("textbox", name="Data")
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(block)
    await dialog.get_by_role("button", name="Submit").click()
    await expect(dialog).to_be_hidden()  # sent and accepted by the first press

    status = await eventually(lambda: case.query("status", result_type=CaseStatus), lambda s: "head" in s.roles)
    assert status.roles["head"] == head
    after = await sheet_after(page, sheet)
    assert f"Whose turn:** head ({head})" in after.text or f"head ({head})" in after.text, after.text
    assert "seat the head now" not in after.text
    assert ("decide_plan", {"by": head, "summary": "Repair the roof membrane within 3 days",
                            "department": "engineering"}) in after.steps, after.text
