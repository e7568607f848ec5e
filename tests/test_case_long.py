"""Weeks-long cases: continue-as-new carries the whole case, and no action is lost around it."""

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crisisdesk.models.case import Stage
from crisisdesk.playbooks import load_playbook, record_check
from tests.helpers import eventually
from workflows.case import ENGINE

BENCH_HISTORIES = Path(__file__).resolve().parents[1] / "benchmarks" / "histories"


@pytest.fixture
def settings(settings, tmp_path):
    """The delivery playbook with a small history limit, from an organisation's playbook directory."""
    delivery = load_playbook("delivery")
    # Two months in planning: reported weekly, as a stage that is not a key phase is.
    weekly = delivery.reporting.model_copy(update={"key_phases": [p for p in delivery.reporting.key_phases if p != "planning"]})
    book = delivery.model_copy(update={"name": "long_haul", "history_limit": 150, "reporting": weekly})
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "long_haul.json").write_text(json.dumps(book.model_dump(mode="json")))
    # Cases pin only checked versions (`crisis playbook check`); the drills are not this test's subject.
    record_check(tmp_path / "playbooks" / "long_haul.json", book, drills=[], checked_at="test fixture")
    return settings.model_copy(update={"playbook_dir": tmp_path / "playbooks"})


async def test_sixty_day_case_continues_as_new_without_losing_actions(open_case, pool):
    case = await open_case(playbook="long_haul", potential_crisis=True)
    await case.act("acknowledge", by="Wang Head")
    sent = []
    for day in range(60):
        await case.skip(days=1)
        text = f"day {day} check-in"
        if day % 2:
            await case.act("note", by="Chen CS", text=text)
        else:
            await case.signal("note", {"by": "Chen CS", "text": text})
        sent.append(text)

    status = await case.status()
    assert status.stage == Stage.planning and status.playbook == "long_haul"
    # PostgreSQL with what it has not caught up with (complete at any time), read once every report that
    # fell due has been written: reports are effects, running beside the case.
    timeline = await eventually(lambda: case.record(pool), lambda t: count(t, "report", "weekly") == count(t, "report_due", "weekly"),
                                timeout=60)
    continued = [e for e in timeline if e.kind == "continued"]
    assert len(continued) >= 2, "the case should have continued as new at least twice"
    assert [e.detail["text"] for e in timeline if e.kind == "action" and e.name == "note"] == sent
    assert [e.seq for e in timeline] == list(range(1, len(timeline) + 1))  # nothing lost, nothing twice
    weekly = [e for e in timeline if e.kind == "report" and e.name == "weekly"]
    # At least the 60 days the test moved the clock: a report a week. (The time-skipping server also jumps
    # ahead on its own while the case idles; missed slots are skipped, never sent in a burst.)
    due = [datetime.fromisoformat(e.detail["due_at"]) for e in timeline if e.kind == "report_due" and e.name == "weekly"]
    # Anchored: whole weeks apart, even when a wake-up came late (and a late one skips slots, never bursts).
    assert all((b - a) % timedelta(days=7) == timedelta(0) and b > a for a, b in zip(due, due[1:]))
    assert len(weekly) == len(due) and (len(due) >= 8 or any(b - a > timedelta(days=7) for a, b in zip(due, due[1:])))
    # Once PostgreSQL has caught up, the case holds only a bounded tail of what it recorded. (The case may
    # move on while we look: a tail read between two equal, caught-up statuses is one moment's tail.)
    async def quiet_tail():
        before, held, after = await case.status(), await case.timeline(), await case.status()
        return held if before.unrecorded == 0 and before.updated_at == after.updated_at else None
    held = await eventually(quiet_tail, lambda h: h is not None, timeout=60)
    now_recorded = {e.seq: e for e in await case.record(pool)}
    assert len(held) <= 200 and held == [now_recorded.get(e.seq) for e in held]  # a bounded tail; PostgreSQL the rest
    if os.environ.get("CRISIS_RECORD_HISTORIES"):  # every run of a 60-day case, for test_replay and make bench
        runs = [w async for w in case.env.client.list_workflows(f"WorkflowId = '{case.id}'")]
        for n, run in enumerate(sorted(runs, key=lambda w: w.start_time), start=1):
            history = await case.env.client.get_workflow_handle(case.id, run_id=run.run_id).fetch_history()
            # Every run for the bench's replay figure; the first two and the last for the replay tests.
            name = f"long_haul_60d_run{n}_e{ENGINE}.json"
            (BENCH_HISTORIES / name).write_text(history.to_json())
            if n <= 2 or n == len(runs):
                (Path(__file__).parent / "histories" / name).write_text(history.to_json())


def count(timeline, kind: str, name: str) -> int:
    return sum(e.kind == kind and e.name == name for e in timeline)
