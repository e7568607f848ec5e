"""The case's rules without Temporal: all-or-nothing actions."""

from datetime import datetime, timezone

import pytest

from crisisdesk.models.actions import ActionRefused, parse_action
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import load_playbook
from workflows.casefile import CaseFile
from workflows.steps import apply

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def new_case() -> CaseFile:
    return CaseFile.open("crisis-r1", Intake(intake_id="r1", summary="s", potential_crisis=True,
                                             roles={"head": "H"}), load_playbook("delivery"), NOW)


def test_a_refused_action_leaves_the_same_state_object_unchanged():
    """The run loop holds the state across awaits: a refusal or a dry run must restore it in place,
    never swap in a copy (an update validator's dry run is not replayed)."""
    case = new_case()
    state, before, effects = case.state, case.state.model_dump_json(), list(case.effects)
    with pytest.raises(ActionRefused, match="only the head"):
        with case.attempt():
            apply(case, "decide_plan", parse_action("decide_plan", {"by": "X", "summary": "s", "department": "d"}), NOW)
    with case.attempt(commit=False):
        apply(case, "note", parse_action("note", {"by": "X", "text": "dry run"}), NOW)
    assert case.state is state and state.model_dump_json() == before and case.effects == effects


def test_an_accepted_action_is_kept():
    case = new_case()
    with case.attempt():
        apply(case, "decide_plan", parse_action("decide_plan", {"by": "H", "summary": "s", "department": "d"}), NOW)
    assert case.state.stage == "contacting" and "first_contact" in case.state.deadlines
