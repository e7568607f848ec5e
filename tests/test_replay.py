"""Replay: histories recorded from earlier code must replay on today's workflow code.

A change that would break running cases (a new command, a reordered activity) fails here; guard
such changes with `workflow.patched(...)`. Record new histories after a deliberate, patched change:

    CRISIS_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/test_replay.py
"""

import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from crisisdesk.converter import data_converter
from crisisdesk.code import workflow_runner
from workflows.case import ENGINE, CrisisWorkflow

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=[CrisisWorkflow], data_converter=data_converter(), workflow_runner=workflow_runner())


async def drive_crisis(case) -> None:
    """A short crisis touching most of the workflow's commands: timers, activities, updates, signals."""
    await case.act("acknowledge", by="Wang Head")
    await case.act("decide_plan", by="Wang Head", summary="Repair", department="engineering")
    await case.skip(hours=13)
    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    await case.signal("revise_plan", {"by": "Chen CS", "kind": "specific", "summary": "Saturday"})
    await case.signal("approve_revision", {"by": "Nobody"})  # refused, recorded
    await case.act("approve_revision", by="Wang Head")  # never the proposer
    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=True)
    await case.act("contingency_task_done", by="Wang Head", name="government_liaison")
    await case.signal("contingency_task_done", {"by": "Nobody", "name": "police_liaison"})  # refused, recorded
    await case.act("contingency_stand_down", by="Wang Head", reason="the customer accepted the plan")
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.act("execution_done", by="Zhao Eng")
    await case.act("resolution_confirmed", by="Chen CS", satisfied=True)
    await case.act("survey_response", by="Chen CS", score=5)
    await case.act("review_done", by="Wang Head", cause="c", lessons="l", knowledge_title="t", knowledge_body="b")
    await case.handle.result()


async def test_a_fresh_case_replays_deterministically(open_case):
    case = await open_case(potential_crisis=True)
    await drive_crisis(case)
    history = await case.handle.fetch_history()
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
    if os.environ.get("CRISIS_RECORD_HISTORIES"):
        (HISTORIES / f"crisis_closed_e{ENGINE}.json").write_text(history.to_json())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays_on_current_code(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"


def test_there_are_recorded_histories():
    assert list(HISTORIES.glob("*.json")), "tests/histories/ must hold at least one recorded history"


async def test_refusals_under_load_while_effects_run_leave_history_replayable(open_case):
    """Refused updates arriving continuously while the case records and notifies in the background:
    every one is in history (the case records refusals itself), and the history replays. (Once a
    regression test for validators' dry runs, which forked history while an activity was awaited.)"""
    import asyncio

    case = await open_case(potential_crisis=True)
    stop = asyncio.Event()

    async def refuse_continuously() -> int:
        sent = 0
        while not stop.is_set():  # refused by the handler: in history, and on the timeline
            await case.refused("decide_plan", by="Nobody", summary="x", department="y")
            sent += 1
        return sent

    pressure = [asyncio.create_task(refuse_continuously()) for _ in range(3)]
    for round_ in range(20):  # each accepted note is recorded by an activity while validators run
        await case.act("note", by="Chen CS", text=f"round {round_}")
    stop.set()
    assert sum(await asyncio.gather(*pressure)) > 20
    await case.act("cancel", by="Wang Head", reason="drill over")
    await case.handle.result()
    result = await replayer().replay_workflow(await case.handle.fetch_history(), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
