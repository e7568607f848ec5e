"""The case lifecycle the sources describe (issue 11), on the time-skipping server with real activities.

Each test is one of the issue's findings: it failed on the rules cases ran before (version 2)."""

from datetime import timedelta

import pytest

from crisisdesk.models.case import Stage
from crisisdesk.playbooks import Playbook, PlaybookError, load_playbook
from tests.helpers import ORDINARY_CLOSURE, eventually

HEAD, CS, ENG = "Wang Head", "Chen CS", "Zhao Eng"


async def test_a_survey_nobody_answers_reminds_once_then_lets_the_case_move_on(open_case):
    case = await open_case()
    for name, fields in ORDINARY_CLOSURE[:7]:  # up to the confirmed resolution: the survey goes out
        await case.act(name, **fields)
    assert (await case.status()).stage == Stage.surveying
    period = load_playbook("after_sales").survey_period

    await case.skip(seconds=period.total_seconds() / 2 + 60)
    [reminder] = await case.wait_for("reminder", "survey")
    assert (await case.status()).stage == Stage.surveying
    await case.skip(seconds=period.total_seconds() / 2)
    [unanswered] = await case.wait_for("survey_unanswered", "survey")
    status = await case.status()
    assert status.stage == Stage.reviewing and status.counts["surveys_unanswered"] == 1
    assert unanswered.at - reminder.at >= period / 2 - timedelta(minutes=2)
    closed = await case.act(*ORDINARY_CLOSURE[-1][:1], **ORDINARY_CLOSURE[-1][1])  # the review closes it
    assert closed.stage == Stage.closed


def test_a_playbook_whose_survey_never_ends_is_refused_naming_the_field():
    data = load_playbook("delivery").model_dump(mode="json") | {"survey_period": "PT0S"}
    with pytest.raises(ValueError, match="survey_period: must be longer than zero"):
        Playbook.model_validate(data)
    assert issubclass(PlaybookError, ValueError)


async def crisis_at_answer(open_case):
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by=HEAD)
    await case.act("decide_plan", by=HEAD, summary="Repair walls, dehumidify", department="engineering")
    await case.act("customer_contacted", by=CS)
    return case


async def test_the_first_unsatisfied_answer_starts_the_contingency_and_is_reported_at_once(open_case, client):
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False, note="wants a full repaint")
    status = await case.status()
    assert status.contingency and status.stage == Stage.revising
    reports = await case.wait_for("report", "change", count=2)  # the alert's, and the rejection's
    assert len(reports) >= 2

    async def contingency_view():  # the operators' saved view "contingency on"
        return [w.id async for w in client.list_workflows(f"WorkflowId = '{case.id}' AND CrisisContingency = true")]
    assert await eventually(contingency_view, lambda ids: ids == [case.id])


async def test_a_principled_revision_waits_for_the_head_on_a_clock_and_never_for_its_proposer(open_case):
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False)
    await case.act("revise_plan", by=HEAD, kind="principled", summary="Full refund instead of repair")
    assert "revision_approval" in {d.name for d in (await case.status()).deadlines}
    refusal = await case.refused("approve_revision", by=HEAD)
    assert "proposed this revision" in refusal and "never approves their own change" in refusal

    await case.skip(hours=1, minutes=1)  # 10 h without a word happened before: now a breach, escalated
    [breach] = await case.wait_for("breach", "revision_approval")
    assert breach.detail["notified"] == ["head"]
    await case.act("delegate", by=HEAD, to="Qian Deputy", scope=["approve_revision"],
                   until=(await case.now() + timedelta(days=1)).isoformat(), outside_scope="call the head")
    approved = await case.act("approve_revision", by="Qian Deputy")
    assert approved.stage == Stage.contacting
    assert "revision_approval" not in {d.name for d in (await case.status()).deadlines}


async def test_the_department_is_told_to_carry_out_an_accepted_plan(open_case):
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=True)
    [told] = await case.wait_for("notification", "handover")
    assert told.detail["roles"] == ["department:engineering"]


async def test_a_police_liaison_and_a_media_statement_are_reported_at_once(open_case):
    case = await crisis_at_answer(open_case)
    before = len(await case.events("report", "change"))
    await case.act("police_liaison", by=HEAD, contact="Riverside station", conditions="crowding", channel="110")
    await case.act("assign_role", by=HEAD, role="spokesperson", person="Sun Marketing")
    await case.act("media_statement", by="Sun Marketing", filed_with="City Daily", text="We are repairing")
    reports = await case.wait_for("report", "change", count=before + 2)
    assert len(reports) >= before + 2
    # Once the media are involved, the spokesperson's media-contact report goes out at once as well.
    await case.wait_for("report", "media")


async def test_a_crisis_asks_the_monitor_to_check_in_and_escalates_a_missed_one(open_case):
    case = await open_case(potential_crisis=True, roles={"head": HEAD, "monitor": "Sun Marketing", "cs_owner": CS})
    assert "monitor_checkin" in {d.name for d in (await case.status()).deadlines}
    await case.act("acknowledge", by=HEAD)
    assert "monitor" in await case.refused("monitor_checkin", by=CS)
    await case.act("monitor_checkin", by="Sun Marketing", watched=["owner group"], findings="two new posts")
    [checked] = await case.events("deadline_met", "monitor_checkin")
    due = next(d for d in (await case.status()).deadlines if d.name == "monitor_checkin").due_at
    assert due - checked.at == timedelta(days=1)  # the clock restarts at each check-in

    await case.skip(days=1, minutes=1)
    [breach] = await case.wait_for("breach", "monitor_checkin")
    assert breach.detail["notified"] == ["monitor"]


async def test_the_head_reclassifies_a_specific_revision_as_principled_and_then_approves_it(open_case):
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False)
    await case.act("revise_plan", by=CS, kind="specific", summary="Full refund instead of repair")
    assert "reclassify_revision" in await case.refused("reclassify_revision", by=ENG, reason="not mine to say")
    await case.act("reclassify_revision", by=HEAD, reason="a refund changes the plan's principle")
    assert "revision_approval" in {d.name for d in (await case.status()).deadlines}
    assert "head" in await case.refused("approve_revision", by=ENG)  # the department may no longer approve it
    approved = await case.act("approve_revision", by=HEAD)
    assert approved.stage == Stage.contacting
