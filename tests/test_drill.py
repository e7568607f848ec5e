"""Drills: the shipped scenario plays in simulated time and reports breaches and refusals."""

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from starter.drill import Drill, play

DRILLS = Path(__file__).parent.parent / "drills"


async def test_shipped_drill_shows_the_breaches_the_plan_predicts(temporal_env, worker, task_queue):
    drill = Drill.model_validate(json.loads((DRILLS / "delivery_late_contact.json").read_text()))
    seen = []
    result = await play(drill, temporal_env, task_queue, on_step=lambda outcome, total: seen.append(outcome.step))
    assert seen == list(range(1, len(drill.steps) + 1))  # progress reported for every step
    breached = {e.name for e in result.breaches}
    assert {"first_contact", "revision"} <= breached
    refused = [o for o in result.outcomes if not o.accepted]
    assert [o.what for o in refused] == ["approve_revision"] and "no revision is pending" in refused[0].message
    assert result.status.path == "crisis" and result.status.contingency
    assert any(e.kind == "report" and e.name == "daily" for e in result.timeline)


def test_a_step_must_act_or_wait():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="either acts"):
        Drill.model_validate({"title": "t", "intake": {"intake_id": "x", "summary": "s"}, "steps": [{}]})


def test_crisis_drill_plays_several_scenarios_on_one_stack():
    """`crisis drill A B --json` as a person runs it: one private stack for both, progress on stderr, and
    nothing but the JSON on stdout (the dev server's banner once leaked there). The 30-day scenario
    takes a case from alert to review in simulated time, skipping the time between steps."""
    import subprocess
    import sys

    files = [DRILLS / "delivery_30_day_crisis.json", DRILLS / "delivery_late_contact.json"]
    done = subprocess.run([str(Path(sys.executable).with_name("crisis")), "drill", *map(str, files), "--json"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    month, short = json.loads(done.stdout)
    assert month["status"]["stage"] == "closed" and all(o["accepted"] for o in month["outcomes"])
    daily = [e for e in month["timeline"] if e["kind"] == "report" and e["name"] == "daily"]
    assert len(daily) >= 8  # reported every day while the contingency was on, and in execution (key phases)
    # The contingency's tasks (issue 26): opened with owners, one done late and escalated, the stand-down.
    tasks = {t["name"]: t for t in month["status"]["contingency"]["tasks"]}
    assert len(tasks) >= 4 and all(t["owner"] and t["due_at"] for t in tasks.values())
    late = tasks["statement_filed"]
    assert late["breached"] and late["done_at"] > late["due_at"] and late["done_with"] == "media_statement"
    assert any(e["kind"] == "escalated" and e["name"] == "contingency:statement_filed" for e in month["timeline"])
    assert month["status"]["contingency"]["stood_down_at"] and tasks["media_report"]["closed_at"]
    assert short["status"]["stage"] == "contacting" and {"first_contact", "revision"} <= {
        e["name"] for e in short["timeline"] if e["kind"] == "breach"}
    assert "[34/34] review_done: ok" in done.stderr  # progress, step by step


async def test_business_time_drills_show_what_working_hours_and_holidays_change(temporal_env, worker, task_queue):
    """The same Friday-evening and National Day reports under the delivery plan (on the clock) and the service
    plan (working time, China's holidays): breached on the clock, not in working time."""
    for name in ("business_friday_evening.json", "business_national_holiday.json"):
        drill = Drill.model_validate(json.loads((DRILLS / name).read_text()))
        results = {}
        for book in ("delivery", "service"):
            scenario = drill.model_copy(update={"intake": drill.intake.model_copy(update={"playbook": book})})
            results[book] = await play(scenario, temporal_env, task_queue)
            assert all(o.accepted for o in results[book].outcomes), (name, book, results[book].outcomes)
        clock, working = results["delivery"], results["service"]
        assert "acknowledgement" in {e.name for e in clock.breaches}, name
        assert not working.breaches, (name, [e.name for e in working.breaches])
        targets = {e.name: e.detail for e in working.targets}
        assert targets["acknowledgement"]["working_time"] == "PT2H" and targets["acknowledgement"]["due_local"]
        assert all("working_time" not in e.detail for e in clock.targets)
        opened = working.status.received_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert (opened.weekday(), opened.hour) == (4, 19) if "friday" in name else (opened.month, opened.day) == (10, 1)


def test_a_private_dev_server_runs_on_the_process_runtime(temporal_env):
    """Its clients and workers log Core's lines through Python logging (stderr): on the SDK's default runtime
    a worker's WARN went to stdout, where it once preceded `crisis drill --json`'s answer."""
    from starter.client import process_runtime

    assert temporal_env.client.service_client.config.runtime is process_runtime()
