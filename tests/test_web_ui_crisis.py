"""A crisis case from triage to closed in the real Temporal Web UI, in a real (headless) browser, using
only what the UI shows. The stack and the browser: tests/helpers/web_ui_stack.py; the ordinary case
and the stack's two ways of sealing: tests/test_web_ui.py, which runs beside this file.

Each step's action and its example JSON are read from the case sheet, the person whose turn it is
replaces the example's `by`, the JSON is pasted into the Update dialog, and the sheet changes. The
refusals it provokes (an unknown field, the example pasted unchanged by someone without authority)
show one sentence, no stack trace and no source path, and each is on the case's timeline exactly once.
Encrypted, the dialog says where to read the reason, and the reason comes back through the codec
server (HTTP)."""


import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.enums.v1 import EventType

from crisisdesk.converter import ENCRYPTED_REFUSAL
from crisisdesk.lifecycle import ACTIONS
from tests.helpers import eventually
from tests.helpers.web_ui import (
    Steps, for_guide, metadata_panels, read_sheet, send_update, sheet_after,
)

try:
    from playwright.async_api import Page, expect
except ImportError as err:  # a collection error, never a skip: the dev extra must bring it
    raise ImportError(f"tests/test_web_ui.py needs Playwright's Python package (pip install playwright; "
                      f"the `dev` extra of pyproject.toml): {err}") from err
from tests.helpers.web_ui_stack import (
    CUSTOMER_SAYS, TRIAGE, Stack, listed, open_case_sheet, refusal_failures, refusal_is_one_sentence, start_case,
    status_of, timeline_of,
)
from tests.helpers.web_ui_stack import browser, chromium, page, stack  # noqa: F401 (fixtures)


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
