"""The lifecycle table is the rule: every stage × action the case runs, without a server, and every place
that shows the table (open actions, the sheet, the Web UI's descriptions, `crisis stuck`, the docs)."""

from datetime import datetime, timedelta, timezone

import pytest

from crisisdesk.guide import describe
from crisisdesk.lifecycle import ACTIONS, ANY_STAGE, SEATS, STAGES, meets, open_actions, who_text
from crisisdesk.models.actions import ACTION_MODELS, ActionRefused, parse_action
from crisisdesk.models.case import PlanStatus, Stage
from crisisdesk.models.intake import Intake, Path
from crisisdesk.playbooks import load_playbook
from tools.docs_tables import stale
from workflows.casefile import CaseFile
from workflows.steps import STEPS, apply

NOW = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
ROLES = {"head": "Head", "regional_cs": "Regional", "cs_owner": "CS", "spokesperson": "Spokes", "technician": "Tech",
         "monitor": "Monitor", "department:engineering": "Eng"}


def case_at(stage: Stage, path: Path) -> CaseFile:
    """A case put straight into `stage` on `path`, with every seat filled and a plan, as far as the
    table is concerned (the steps' own checks of the plan's state still apply)."""
    case = CaseFile.open("crisis-t1", Intake(intake_id="t1", summary="s", roles=ROLES), load_playbook("delivery"), NOW)
    case.state.stage, case.state.path = stage, path
    case.state.plan = PlanStatus(summary="p", department="engineering", decided_by="Head", decided_at=NOW)
    return case


def example(name: str, by: str):
    payload = dict(ACTIONS[name].example, by=by)
    for field in ("until",):
        if field in payload:
            payload[field] = (NOW + timedelta(days=1)).isoformat()
    return parse_action(name, payload)


def refusal(case: CaseFile, name: str, by: str) -> str | None:
    try:
        with case.attempt(commit=False):
            apply(case, name, example(name, by), NOW)
    except ActionRefused as refused:
        return str(refused)
    return None


def test_every_action_has_a_model_a_step_and_a_row_and_every_seat_is_known():
    assert set(ACTIONS) == set(STEPS) == set(ACTION_MODELS)
    for name, row in ACTIONS.items():
        assert row.who and set(row.who) <= set(SEATS), name
        assert row.stages and all(not s.is_final for s in row.stages), name
        assert set(row.open_at) <= set(row.stages), name
        parse_action(name, row.example)  # the example to paste is valid as it stands


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_action_is_refused_at_every_stage_outside_its_row_and_never_for_its_stage_inside(name):
    row = ACTIONS[name]
    for path in Path:
        for stage in ANY_STAGE:
            reason = refusal(case_at(stage, path), name, row.example["by"])
            wrong_place = (row.path not in (None, path)) or stage not in row.stages_on(path)
            said = reason is not None and ("this action belongs to" in reason or f"belongs to the {row.path} path" in reason)
            assert said == wrong_place, f"{name} at {stage.value} on the {path.value} path: {reason}"


def test_every_row_names_someone():
    """Issue 20: every action has its owner; a row that names no seat (or "anyone") fails here."""
    for name, row in ACTIONS.items():
        assert row.who and "anyone" not in row.who, f"{name}: its row names no one"


@pytest.mark.parametrize("name", list(ACTIONS))
def test_a_stranger_is_refused_every_action_whose_row_names_its_seats(name):
    row = ACTIONS[name]
    stage = (row.open_at or row.stages)[0]
    path = row.path or (Path.crisis if stage in (Stage.alerting, Stage.planning) else Path.ordinary)
    case = case_at(stage, path)
    # What the step checks before who may: a plan to adjust, a revision to approve.
    case.state.implementation = {"owner": "Tech", "summary": "s", "milestones": [], "adjustments": 0}
    case.state.plan.pending_revision = {"kind": "principled", "summary": "r", "by": "CS", "at": NOW.isoformat()}
    case.state.auth_required = row.who == ("staff",)  # staff: anyone signed in; a stranger is nobody signed in
    case.contingency_on(NOW, "CS", "a contingency to act on")  # its tasks, to be done or stood down
    reason = refusal(case, name, "Stranger")
    assert reason is not None and "Stranger" in reason, f"{name}: a stranger was not refused ({reason})"


def test_open_actions_come_from_the_table():
    case = case_at(Stage.alerting, Path.crisis)
    assert case.status().open_actions == open_actions(Stage.alerting, Path.crisis) == ["acknowledge", "decide_plan"]
    assert open_actions(Stage.solving, Path.crisis) == []  # ordinary-path actions are not offered on the crisis path
    assert "convene_experts" in open_actions(Stage.solving, Path.ordinary)
    for stage, row in STAGES.items():
        assert (row.turn is None) == stage.is_final


def test_the_web_ui_descriptions_and_crisis_stuck_read_the_table():
    for name, row in ACTIONS.items():
        assert row.what[1:] in describe(name) and who_text(row) in describe(name)
    assert meets("first_contact") == ["customer_contacted"]
    assert "triage" in meets("acknowledgement")


def test_the_docs_tables_are_the_table():
    assert not stale(), "docs drifted from crisisdesk/lifecycle.py: run `python -m tools.docs_tables`"
