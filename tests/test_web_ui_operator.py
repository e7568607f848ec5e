"""The operator's day (issue 30) on the stack `make run` starts, in a real (headless) Chromium.

- The banner's "ready in" counts from when the person started it (`make run` passes CRISIS_STARTED_AT).
- A crisis intake for a project with no team: the alert reaches the embedded stack's own user (seated as the
  directory's admin), and the case sheet leads with seating the head, its `assign_role` ready to paste.
- That suggestion, copied from the sheet into the Update dialog as it stands, is sent by the first press of
  Submit (the dialog's editor reformats compact JSON on blur, and the first press was then lost), and the
  sheet's next suggestions are in the new head's name.
- The guide's list: the columns it names added in *Configure Columns*, its saved views saved and listed
  (with CRISIS_DOC_SCREENSHOTS=1 the guide's pictures are rewritten in docs/pictures/).
"""

import getpass
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

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


# -- docs/operators.md "A list you can work from": the list's columns and saved views, in the real UI ---------
COLUMNS = ["CrisisStage", "CrisisSeverity", "CrisisNextDeadline", "CrisisOwner"]
PICTURES = Path(__file__).resolve().parents[1] / "docs" / "pictures"


def views(owner: str, now: datetime) -> dict[str, str]:
    """The guide's saved views (docs/operators.md), for `owner` and the UTC day of `now`."""
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    return {"my cases": f"ExecutionStatus = 'Running' AND CrisisOwner = '{owner}'",
            "breached": "ExecutionStatus = 'Running' AND CrisisBreached = true",
            "due today": f"ExecutionStatus = 'Running' AND CrisisNextDeadline < '{tomorrow}'"}


async def picture(page: Page, name: str) -> None:
    if os.environ.get("CRISIS_DOC_SCREENSHOTS") == "1":
        PICTURES.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(PICTURES / f"{name}.png"))


async def test_the_guides_list_columns_and_saved_views_work_in_the_ui(stack, page: Page):
    _, info, client = stack
    owner = f"owner.{uuid.uuid4().hex[:6]}"
    intake = {"intake_id": f"LIST-{uuid.uuid4().hex[:8]}", "summary": "Lift stops between floors", "channel": "phone",
              "project": {"id": "P-LIST"}, "roles": {"cs_owner": owner}}
    async with httpx.AsyncClient(base_url=info["api_url"], timeout=30) as http:
        assert (await http.post("/intakes", json=intake)).status_code == 201
    case_id = f"crisis-{intake['intake_id']}"

    async def listed() -> list[str]:
        return [w.id async for w in client.list_workflows(f"CrisisOwner = '{owner}'")]
    await eventually(listed, lambda ids: ids == [case_id], timeout=30)

    await page.set_viewport_size({"width": 1680, "height": 900})  # room for the four columns in the pictures
    await page.goto(f"{info['ui_url']}/namespaces/default/workflows")
    await page.get_by_test_id("workflows-summary-table-configuration-button").click()
    for column in COLUMNS:
        await page.get_by_role("button", name=f"Add {column} column").click()
    for column in ("Run ID", "Type", "End"):
        await page.get_by_role("button", name=f"Remove {column} column").click()
    # The summary (`[severity] summary · project`) is no column the UI offers: it shows on the case's page.
    assert await page.get_by_role("button", name=re.compile(r"^Add Summary column")).count() == 0
    await picture(page, "list-configure-columns")
    await page.get_by_role("button", name="Close").first.click()
    header = page.get_by_role("table", name="Workflows").get_by_role("row").first
    for column in COLUMNS:
        await expect(header.get_by_role("columnheader", name=column, exact=True)).to_be_visible()

    for name, query in views(owner, datetime.now(timezone.utc)).items():
        # From *All*: with a saved view open, a changed query offers Save (over it) and Duplicate instead.
        await page.get_by_role("group", name="Saved Views").get_by_role("link", name="All", exact=True).click()
        if not await page.get_by_role("searchbox", name="Enter a query").count():
            await page.get_by_test_id("toggle-manual-query").click()
        await page.get_by_role("searchbox", name="Enter a query").fill(query)
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("button", name="Save as New").click()
        dialog = page.get_by_role("dialog", name="Save as New View")
        await dialog.get_by_role("textbox", name=re.compile("Name")).fill(name)
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog).to_be_hidden()
        if name == "my cases":
            row = page.get_by_role("row").filter(has_text=case_id)
            await expect(row).to_be_visible()
            for cell in ("reported", "general", owner):
                await expect(row.get_by_role("cell", name=cell, exact=True)).to_be_visible()
            await picture(page, "list-my-cases")
    await page.get_by_test_id("saved-views-button").click()
    for name in ("my cases", "breached", "due today"):
        await expect(page.get_by_text(name, exact=True).first).to_be_visible()
    await picture(page, "list-saved-views")
