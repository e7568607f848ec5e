"""An operator works whole cases in the real Temporal Web UI, in a real (headless) browser.

The stack is the one a user runs: `crisis dev` (Temporal with its Web UI, PostgreSQL, worker, intake
API), sealed either way: once as `make run` starts it (no CRISIS_ENCRYPTION_KEY: the data directory's
own key) and once with CRISIS_ENCRYPTION_KEY, which wins. The UI reads and writes every payload
through the API's codec endpoint, which `crisis dev` configures.

- An ordinary case: found in the workflow list by a search-attribute query, triaged with *More
  Actions -> Send an Update*; the case sheet (User Metadata -> Current Details) moves on.
- A crisis case from triage to closed using only what the UI shows: each step's action and its
  example JSON are read from the case sheet, the person whose turn it is replaces the example's
  `by`, the JSON is pasted into the Update dialog, and the sheet changes. The refusals it provokes
  (an unknown field, the example pasted unchanged by someone without authority) show one sentence,
  no stack trace and no source path, and each is on the case's timeline exactly once. Encrypted, the
  dialog says where to read the reason, and the reason comes back through the codec server (HTTP).

Chromium comes from Debian (`tools/install-system-packages.sh`, run here when it is missing); never
`playwright install`. Screenshots of every step go to tests/artifacts/web-ui/; with
`CRISIS_DOC_SCREENSHOTS=1` the guide's pictures are (re)written to docs/img/.
"""

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from crisisdesk.converter import ENCRYPTED_REFUSAL, data_converter
from crisisdesk.lifecycle import ACTIONS
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.settings import Settings
from starter.client import start_case as start_case_as_users_do
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess
from tests.helpers.web_ui import (
    CHROMIUM_ARGS, UI_TIMEOUT_MS, Sheet, Steps, chromium_path, for_guide, metadata_panels, open_update_dialog, read_sheet,
    send_update, sheet_after, update_option,
)

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui.py needs Playwright's Python package (pip install playwright; "
                      f"the `dev` extra of pyproject.toml): {err}") from err

KEY = "5f" * 32  # a test key (64 hex digits)
TRIAGE = {"by": "Chen CS", "severity": "urgent", "category": "safety"}
# What only the outside world can tell the operator: the customer's answer.
CUSTOMER_SAYS = {"customer_answer": {"satisfied": True, "note": "accepts the plan"}}
SOURCE_PATH = re.compile(r'File "|\.py\b|Traceback|line \d+')


# ------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@dataclass
class Stack:
    sealed: bool  # by default, with the key `crisis dev` made for itself (else CRISIS_ENCRYPTION_KEY)
    key: str
    data_dir: Path
    info: dict  # stack.json
    client: Client  # with the stack's data converter (and key)
    raw: Client  # no codec: sees what the server stores

    encrypted: bool = True  # always, since `crisis dev` seals by default

    @property
    def base(self) -> str:
        return self.info["ui_url"]

    @property
    def name(self) -> str:
        return "sealed" if self.sealed else "keyed"


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["sealed", "keyed"])
async def stack(request, tmp_path_factory) -> AsyncIterator[Stack]:
    """`crisis dev` on free ports, sealed by default (its own key) or with CRISIS_ENCRYPTION_KEY."""
    sealed = request.param == "sealed"
    env = {"CRISIS_ENCRYPTION_KEY": None} if sealed else {"CRISIS_ENCRYPTION_KEY": KEY}
    dev = DevStackProcess(tmp_path_factory.mktemp(f"ui-{request.param}"), env=env)
    try:
        info = await dev.wait_ready()
        banner = dev.output()
        # The banner says the UI decodes through the codec endpoint, for the UI's own port.
        assert info["codec_url"] and info["codec_url"] in banner and "ENCRYPTED" in banner, banner
        assert f"http://127.0.0.1:{dev.ports['ui']}" in banner
        key_file = dev.data_dir / "encryption.key"
        if sealed:  # a key of its own, owner-only, never printed
            key = dev.local_key
            assert oct(key_file.stat().st_mode & 0o777) == "0o600" and key not in banner
            assert info["key_file"] == str(key_file) and f"the local key in {key_file}" in banner
        else:  # CRISIS_ENCRYPTION_KEY wins: no key file is made or named
            key = KEY
            assert not key_file.exists() and info["key_file"] is None and "(CRISIS_ENCRYPTION_KEY)" in banner
        client = await Client.connect(info["temporal_address"],
                                      data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=key)))
        raw = await Client.connect(info["temporal_address"])
        yield Stack(sealed, key, dev.data_dir, info, client, raw)
    finally:
        code = dev.stop()
        assert code == 0, f"crisis dev exited {code}:\n{dev.output()[-3000:]}"


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
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
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

async def start_case(stack: Stack, project: str, **fields) -> WorkflowHandle:
    intake = Intake.model_validate({
        "intake_id": f"ui-{uuid.uuid4().hex[:10]}",
        "channel": "phone",
        "summary": "Water leaking through the ceiling after handover",
        "severity": "important",
        "reporter": {"name": "Zhang San", "contact": "zhang.san@example.com", "role": "owner"},
        "project": {"id": project, "name": "Web UI Court", "region": "east"},
        "roles": {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS", "technician": "Tech Liu"},
        **fields,
    })
    settings = Settings(CRISIS_TASK_QUEUE=stack.info["task_queue"], CRISIS_ENCRYPTION_KEY=stack.key)
    started = await start_case_as_users_do(stack.client, intake, settings)  # static summary and details included
    return stack.client.get_workflow_handle(started.case_id, result_type=CaseStatus)


async def status_of(handle: WorkflowHandle) -> CaseStatus:
    async def probe():
        try:
            return await handle.query("status", result_type=CaseStatus)
        except Exception:  # "the case is opening; ask again in a moment"
            return None

    return await eventually(probe, lambda s: s is not None, timeout=15.0)


async def timeline_of(handle: WorkflowHandle) -> list[TimelineEvent]:
    return await handle.query("timeline", result_type=list[TimelineEvent])


async def listed(client: Client, query: str) -> set[str]:
    return {wf.id async for wf in client.list_workflows(query)}


async def open_case_sheet(page: Page, stack: Stack, case: WorkflowHandle) -> Sheet:
    await page.goto(f"{stack.base}/namespaces/default/workflows/{case.id}")
    await expect(page.get_by_role("heading", name=case.id)).to_be_visible()
    await page.get_by_text("User Metadata", exact=True).click()
    return await read_sheet(page)


def refusal_is_one_sentence(text: str) -> None:
    assert text and "\n" not in text.strip() and not SOURCE_PATH.search(text), text


async def refusal_failures(stack: Stack, case: WorkflowHandle):
    """The failures of refused updates, as the server stores them (raw) and as the key decodes them."""
    raw, decoded = [], []
    async for event in stack.raw.get_workflow_handle(case.id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("failure"):
                raw.append(outcome.failure)
                copy = type(outcome.failure)()
                copy.CopyFrom(outcome.failure)  # decoding works in place
                decoded.append(await stack.client.data_converter.decode_failure(copy))
    return raw, decoded


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


# The whole walk on the stack `make run` starts (sealed by its own key); the explicitly keyed stack is
# covered by the other tests of this module (the UI decodes and sends through the same codec endpoint).
@pytest.mark.parametrize("stack", ["sealed"], indirect=True)
async def test_a_crisis_case_goes_to_closed_from_what_the_case_sheet_says(stack: Stack, page: Page):
    """Only the UI acts: the sheet names the next action, its example and whose turn it is."""
    case = await start_case(stack, f"P-UI-{uuid.uuid4().hex[:4]}")
    await status_of(case)
    step = Steps(page, f"crisis-{stack.name}")
    async with step("case-sheet"):
        sheet = await open_case_sheet(page, stack, case)
    refusals: list[str] = []

    # Bad input from the dialog: refused with a sentence naming what is wrong, recorded, the case unharmed.
    for label, data in (("unknown-field", json.dumps({**TRIAGE, "colour": "red"})), ("array", "[1, 2]"),
                        ("bare-string", '"urgent"')):
        async with step(f"refused-{label}"):
            refusals.append(await send_update(page, "triage", data))
            sheet = await sheet_after(page, sheet)  # the refusal is among the sheet's last events

    taken: dict[str, set[str]] = {}
    pasted_as_is = False
    for _ in range(20):
        if sheet.stage == "closed":
            break
        if sheet.stage == "alerting" and not taken:
            # The guide's "due in the next 2 h" view lists a case whose alert waits for acknowledgement.
            now = datetime.now(timezone.utc)
            due_soon = (f"ExecutionStatus = 'Running' AND CrisisNextDeadline BETWEEN '{now:%Y-%m-%dT%H:%M:%SZ}' "
                        f"AND '{now + timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}'")
            await eventually(lambda: listed(stack.client, due_soon), lambda ids: case.id in ids, timeout=15.0)
        done_here = taken.setdefault(sheet.stage, set())
        # The next step of the person whose turn it is (a step the sheet lists for someone else, like customer
        # service's progress_reported while the department executes, is theirs: since issue 20 the seat is checked).
        candidates = [(n, e) for n, e in sheet.steps if n not in done_here]
        name, example = ([(n, e) for n, e in candidates if sheet.role in ACTIONS[n].who] or candidates)[0]
        if name == "decide_plan" and not pasted_as_is:
            # The example in someone else's name (customer service's): the case refuses and says who may.
            async with step("refused-example-as-is"):
                async def picture(dialog) -> None:
                    await for_guide(dialog, "06-refusal-in-dialog", stack.sealed)

                refusal = await send_update(page, name, {**example, "by": "Chen CS"}, on_refused=picture)
                refusals.append(refusal)
                pasted_as_is = True
                sheet = await sheet_after(page, sheet)
            if stack.encrypted:  # where the dialog sends the operator: the event, decoded by the codec server
                async with step("event-history-decodes-the-refusal"):
                    await page.get_by_text("Event History", exact=False).first.click()
                    failed = page.get_by_role("row").filter(has_text="Outcome Failure").first  # newest first
                    await failed.get_by_text("Workflow Execution Update Completed").click()
                    await expect(page.get_by_text("only the head (Wang Head)").first).to_be_visible()
                    await page.get_by_text("User Metadata", exact=True).click()
                    sheet = await read_sheet(page)
        payload = {**example, **CUSTOMER_SAYS.get(name, {})}  # the sheet's example names who may take it
        async with step(f"{sheet.stage}-{name}"):
            if name == "decide_plan":
                await for_guide(metadata_panels(page), "05-case-sheet-alerting", stack.sealed)
            assert await send_update(page, name, payload) is None, f"{name} {payload} refused"
            done_here.add(name)
            sheet = await sheet_after(page, sheet)
    assert sheet.stage == "closed", sheet.text
    await for_guide(metadata_panels(page), "07-case-sheet-closed", stack.sealed)
    final = await case.result()
    assert final.stage == "closed" and final.path == "crisis"

    # Every refusal: one sentence in the dialog, no stack trace or source path, on the timeline exactly once.
    timeline = await timeline_of(case)
    rejected = [e for e in timeline if e.kind == "rejected"]
    assert len(rejected) == len(refusals) == 4, (refusals, rejected)
    assert [e.name for e in rejected] == ["triage", "triage", "triage", "decide_plan"]
    assert all(e.detail.get("via") == "ui-update" for e in rejected), rejected
    for shown in refusals:
        refusal_is_one_sentence(shown)
    reasons = [e.detail["reason"] for e in rejected]
    assert "colour" in reasons[0] and "Wang Head" in reasons[3], reasons
    raw, decoded = await refusal_failures(stack, case)
    assert [d.message for d in decoded] == reasons, (decoded, reasons)
    for failure in raw:
        assert not failure.stack_trace and not failure.HasField("cause"), failure
        assert failure.application_failure_info.type == "ActionRefused" and failure.application_failure_info.non_retryable
    if stack.encrypted:
        # The dialog says where to read the reason; the server holds it only encrypted; the codec server
        # (what the UI's event view calls) gives it back.
        assert refusals == [ENCRYPTED_REFUSAL] * 4
        # What the UI sent went through the codec server's /encode: the server holds it encrypted.
        inputs = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
                  async for e in stack.raw.get_workflow_handle(case.id).fetch_history_events()
                  if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        assert len(inputs) == len(refusals) + sum(map(len, taken.values()))
        assert all(p.metadata["encoding"] == b"binary/encrypted" for args in inputs for p in args.payloads)
        for failure, reason in zip(raw, reasons):
            assert reason not in str(failure), failure
        async with httpx.AsyncClient(timeout=10) as http:
            for failure, reason in zip(raw, reasons):
                body = {"payloads": [json_format.MessageToDict(failure.encoded_attributes)]}
                answer = await http.post(stack.info["codec_url"] + "/decode", json=body,
                                         headers={"Origin": stack.base, "X-Namespace": "default"})
                assert answer.status_code == 200, answer.text
                assert answer.headers["access-control-allow-origin"] == stack.base
                [payload] = answer.json()["payloads"]
                attributes = json.loads(base64.b64decode(payload["data"]))
                assert attributes == {"message": reason, "stack_trace": ""}, attributes
    else:
        assert refusals == reasons  # the dialog shows exactly the recorded reason


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
