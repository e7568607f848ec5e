"""The Web UI tests' stack (`crisis dev` as a user runs it, sealed by default or keyed), their
browser, and the helpers that start and read cases: shared by tests/test_web_ui.py and
tests/test_web_ui_crisis.py, which run side by side on two pytest workers."""


import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from crisisdesk.converter import data_converter
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.settings import Settings
from starter.client import start_case as start_case_as_users_do
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess
from tests.helpers.web_ui import (
    CHROMIUM_ARGS, UI_TIMEOUT_MS, Sheet, chromium_path, read_sheet,
)

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"the Web UI tests need Playwright's Python package (pip install playwright; "
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
