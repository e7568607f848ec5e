"""Drills: the shipped scenario plays in simulated time and reports breaches and refusals."""

import json
from pathlib import Path

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
