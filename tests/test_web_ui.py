"""An operator works whole cases in the real Temporal Web UI, in a real (headless) browser.

The stack is the one a user runs: `crisis dev` (Temporal with its Web UI, PostgreSQL, worker, intake
API), sealed either way: once as `make run` starts it (no CRISIS_ENCRYPTION_KEY: the data directory's
own key) and once with CRISIS_ENCRYPTION_KEY, which wins. The UI reads and writes every payload
through the API's codec endpoint, which `crisis dev` configures.

- An ordinary case: found in the workflow list by a search-attribute query, triaged with *More
  Actions -> Send an Update*; the case sheet (User Metadata -> Current Details) moves on.
- A crisis case from triage to closed using only what the UI shows: tests/test_web_ui_crisis.py,
  beside this file on another pytest worker (the stack and the browser: tests/helpers/web_ui_stack.py).

Chromium comes from Debian (`tools/install-system-packages.sh`, run here when it is missing); never
`playwright install`. Screenshots of every step go to tests/artifacts/web-ui/; with
`CRISIS_DOC_SCREENSHOTS=1` the guide's pictures are (re)written to docs/img/.
"""


import asyncio
import os
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path


from tests.helpers import eventually
from tests.helpers.web_ui import (
    Steps, for_guide, metadata_panels, open_update_dialog, read_sheet, send_update, sheet_after, update_option,
)

try:
    from playwright.async_api import Page, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui.py needs Playwright's Python package (pip install playwright; "
                      f"the `dev` extra of pyproject.toml): {err}") from err
from tests.helpers.web_ui_stack import (
    KEY, TRIAGE, Stack, listed, start_case, status_of,
)
from tests.helpers.web_ui_stack import browser, chromium, page, stack  # noqa: F401 (fixtures)


# ---------------------------------------------------------------------------------------- tests

async def test_an_ordinary_case_is_found_triaged_and_its_sheet_moves_on(stack: Stack, page: Page):
    case = await start_case(stack, f"P-UI-{uuid.uuid4().hex[:4]}")
    other = await start_case(stack, "P-UI-OTHER")  # must not match the query
    assert (await status_of(case)).stage == "reported"
    project = (await status_of(case)).project["id"]
    query = f"CrisisProject = '{project}'"
    # The search attributes are upserted after the case opens: wait for visibility, not for the UI.
    await eventually(lambda: listed(stack.client, query), lambda ids: case.id in ids, timeout=15.0)
    step = Steps(page, f"ordinary-{stack.name}")

    async with step("workflows-filtered-by-project"):
        await page.goto(f"{stack.base}/namespaces/default/workflows?query={urllib.parse.quote(query)}")
        row_link = page.get_by_role("link", name=case.id, exact=True)
        await expect(row_link).to_be_visible()
        await expect(page.get_by_role("link", name=other.id, exact=True)).to_have_count(0)
        await for_guide(page, "01-workflow-list", stack.sealed)

    async with step("case-sheet-reported"):
        await row_link.click()
        await expect(page.get_by_role("heading", name=case.id)).to_be_visible()
        await page.get_by_text("User Metadata", exact=True).click()
        sheet = await read_sheet(page)
        assert sheet.stage == "reported" and [name for name, _ in sheet.steps] == ["triage"], sheet.text
        assert sheet.person == "Chen CS"
        assert "zhang.san@example.com" not in sheet.text and "Zhang San" not in sheet.text  # no personal data
        await for_guide(metadata_panels(page), "02-case-sheet-reported", stack.sealed)

    async with step("update-dialog-describes-triage"):
        dialog = await open_update_dialog(page)
        await dialog.get_by_test_id("update-select-button").click()
        triage = update_option(dialog, "triage")
        await expect(triage).to_contain_text("Fields:")  # what it does, who may, which fields
        await for_guide(dialog, "03-update-dialog-names", stack.sealed)
        await triage.click()
        await dialog.get_by_test_id("cancel-modal-button").click()

    async with step("triaged"):
        assert await send_update(page, "triage", TRIAGE) is None
        sheet = await sheet_after(page, sheet)
        # Urgent: the convened experts propose the solution (rules 3), so convening them comes first.
        assert sheet.stage == "solving" and [n for n, _ in sheet.steps] == ["convene_experts", "solution_proposed"], sheet.text
        await for_guide(metadata_panels(page), "04-case-sheet-solving", stack.sealed)

    after = await status_of(case)
    assert (after.stage, after.severity, after.category, after.path) == ("solving", "urgent", "safety", "ordinary")
    # The guide's "my turn" saved view finds it for the technician the sheet names.
    my_turn = f"ExecutionStatus = 'Running' AND CrisisOwner = 'Tech Liu' AND CrisisProject = '{project}'"
    await eventually(lambda: listed(stack.client, my_turn), lambda ids: ids == {case.id}, timeout=15.0)
    assert (await status_of(other)).stage == "reported"  # the other case was not touched



async def test_crisis_commands_run_in_the_project_directory_find_the_stack(stack: Stack, tmp_path: Path):
    """No TEMPORAL_ADDRESS or DATABASE_URL: `crisis` reads .data/stack.json, and the stack's own key through it;
    a stack given CRISIS_ENCRYPTION_KEY names no key file, and a command without the key says so."""
    case = await start_case(stack, "P-UI-CLI")
    await status_of(case)
    (tmp_path / ".data").symlink_to(stack.data_dir)  # a project directory whose .data is the stack's
    env = {k: v for k, v in os.environ.items()
           if k not in ("TEMPORAL_ADDRESS", "DATABASE_URL", "CRISIS_STACK_FILE", "CRISIS_ENCRYPTION_KEY")}
    keyed = env if stack.sealed else {**env, "CRISIS_ENCRYPTION_KEY": KEY}

    async def crisis(*args: str, environ: dict = keyed) -> subprocess.CompletedProcess:
        return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "starter.cli", *args], cwd=tmp_path,
                                       env=environ, capture_output=True, text=True, timeout=60)

    shown = await crisis("status", case.id)
    assert shown.returncode == 0 and case.id in shown.stdout, shown.stderr
    report = await eventually(lambda: crisis("report", case.id), lambda done: done.returncode == 0, timeout=20, interval=0.5)
    assert case.id in report.stdout
    assert "| # | at | what happened |" in report.stdout and " opened: intake by owner |" in report.stdout  # in words
    found = await crisis("kb", "search", "ceiling")
    assert found.returncode == 0, found.stderr
    if not stack.sealed:
        refused = await crisis("status", case.id, environ=env)
        assert refused.returncode == 2, (refused.stdout, refused.stderr)
        assert "encrypted" in refused.stderr and "CRISIS_ENCRYPTION_KEY is not set" in refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
