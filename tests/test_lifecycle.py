"""Issue 11: the case lifecycle the sources describe, one test per rule that was missing or bent.

Each end-to-end test runs a real case on the time-skipping server with the real activities, and
fails on the rules-2 code it replaced (the rule it checks is named in its docstring).
"""

from datetime import timedelta

import pytest

from crisisdesk import i18n
from crisisdesk.models.case import Stage
from crisisdesk.playbooks import PlaybookError, load_playbook, parse_playbook
from tests.helpers import eventually

HEAD, CS, ENG = "Wang Head", "Chen CS", "Zhao Eng"
REVIEW = {"by": HEAD, "cause": "Worn seal", "lessons": "Check seals", "knowledge_title": "Seal leaks",
          "knowledge_body": "Replace the seal."}


async def crisis_at_answer(open_case):
    """A crisis case whose plan was put to the customer: awaiting their answer."""
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by=HEAD)
    await case.act("decide_plan", by=HEAD, summary="Repair", department="engineering")
    await case.act("customer_contacted", by=CS)
    return case


async def general_at_confirmation(open_case):
    case = await open_case()
    await case.act("triage", by=CS, severity="general", category="technical")
    await case.act("solution_proposed", by="Tech Liu", summary="Reseal the drain")
    await case.act("execution_started", by=ENG, department="engineering")
    await case.act("execution_done", by=ENG)
    return case


async def test_a_survey_never_answered_does_not_jam_closure(open_case):
    """004 §四(六): the survey follows resolution, it is no gate. Old code: `surveying` for ever."""
    case = await general_at_confirmation(open_case)
    await case.act("resolution_confirmed", by=CS, satisfied=True)
    status = await case.status()
    assert status.stage == Stage.surveying and status.waiting_until is not None
    await case.skip(days=3, hours=12, minutes=5)  # halfway through the playbook's 7 days: a reminder
    reminder = (await case.wait_for("customer_reminder", "surveying"))[0]
    assert reminder.detail["until"] == status.waiting_until.isoformat()
    await case.wait_for("notification", "customer_reminder")
    assert (await case.status()).stage == Stage.surveying
    await case.skip(days=3, hours=12)
    silent = (await case.wait_for("customer_silent", "surveying"))[0]
    assert silent.at >= status.waiting_until
    status = await case.status()
    assert status.stage == Stage.reviewing and status.waiting_until is None
    assert (await case.act("review_done", **REVIEW)).stage == Stage.closed


async def test_every_stage_waiting_on_the_customer_moves_on(open_case):
    """The same rule for the plan's answer (3 days) and the resolution's confirmation (7 days)."""
    crisis = await crisis_at_answer(open_case)
    await crisis.skip(days=3, minutes=5)
    await crisis.wait_for("customer_silent", "awaiting_answer")
    status = await crisis.status()
    assert status.stage == Stage.revising and "revision" in {d.name for d in status.deadlines}

    ordinary = await general_at_confirmation(open_case)
    await ordinary.skip(days=7, minutes=5)
    await ordinary.wait_for("customer_silent", "confirming")
    assert (await ordinary.status()).stage == Stage.reviewing


async def test_principled_revision_approval_is_a_deadline_with_escalation(open_case):
    """002 §4.4.1.1: the head approves a principled change; old code stopped every clock at the proposal."""
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False)
    await case.act("revise_plan", by=ENG, kind="principled", summary="Replace instead of repair")
    approval = next(d for d in (await case.status()).deadlines if d.name == "revision_approval")
    proposed = (await case.events("action", "revise_plan"))[0]
    assert approval.due_at - proposed.at == timedelta(hours=1)
    asked = (await case.wait_for("notification", "approval_needed"))[0]
    assert asked.detail["roles"] == ["head"]
    await case.skip(hours=2, minutes=35)  # breach at 1 h, reminders at 1.5 h and 2 h, then regional CS too
    breach = (await case.wait_for("breach", "revision_approval"))[0]
    assert breach.detail["notified"] == ["head"]
    escalated = (await case.wait_for("escalated", "revision_approval"))[0]
    assert escalated.detail["notified"] == ["head", "regional_cs"]
    await case.act("approve_revision", by=HEAD)
    met = (await case.events("deadline_met", "revision_approval"))[0]
    assert met.detail["late_by_seconds"] > 3600


async def test_a_proposer_never_approves_and_the_head_can_reclassify(open_case):
    """Old code: a department labelled a full refund `specific` and approved it itself."""
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False)
    await case.act("revise_plan", by=ENG, kind="specific", summary="Full refund instead of repair")
    seen = (await case.wait_for("notification", "revision_seen"))[0]
    assert seen.detail["roles"] == ["head"]  # the head sees every specific revision
    reason = await case.refused("approve_revision", by=ENG)
    assert "Zhao Eng proposed this revision and cannot approve it" in reason and "Wang Head" in reason
    assert "head (Wang Head)" in await case.refused("reclassify_revision", by=ENG, reason="mine")
    await case.act("reclassify_revision", by=HEAD, reason="a refund changes the plan in principle")
    status = await case.status()
    assert status.plan.pending_revision["kind"] == "principled"
    assert "revision_approval" in {d.name for d in status.deadlines}
    assert "head (Wang Head)" in await case.refused("approve_revision", by=CS)

    # Approved by the department before the head looked: reclassifying sends it back to revising.
    other = await crisis_at_answer(open_case)
    await other.act("customer_answer", by=CS, satisfied=False)
    await other.act("revise_plan", by=CS, kind="specific", summary="Refund half")
    await other.act("approve_revision", by=ENG)
    assert (await other.status()).plan.summary == "Refund half"
    back = await other.act("reclassify_revision", by=HEAD, reason="money is principled")
    status = await other.status()
    assert back.stage == Stage.revising and status.plan.summary == "Repair"
    assert "first_contact" not in {d.name for d in status.deadlines}
    await other.act("approve_revision", by=HEAD)
    assert (await other.status()).plan.summary == "Refund half"


async def test_contingency_starts_on_the_first_unsatisfied_answer(open_case):
    """002 §4.4.1.4; old code waited for the second rejection."""
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=False)
    assert (await case.status()).contingency
    on = (await case.events("contingency", "on"))[0]
    assert i18n.say(on.detail["why"]) == "customer rejected the plan once"  # facts, in words where read


async def test_every_major_change_is_reported_at_once_and_planning_is_a_key_phase(open_case):
    """002 §4.5.1: a rejection, a police liaison and a media statement each report at once; planning
    right after an alert is a key phase (daily reports). Old code: none of these."""
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by=HEAD)
    assert (await case.status()).stage == Stage.planning
    await case.skip(hours=24, minutes=5)
    assert await case.wait_for("report_due", "daily")

    await case.act("decide_plan", by=HEAD, summary="Repair", department="engineering")
    await case.act("customer_contacted", by=CS)
    before = len(await case.wait_for("report", "change"))  # the move to the crisis path
    await case.act("customer_answer", by=CS, satisfied=False)
    await case.wait_for("report", "change", before + 1)
    await case.act("police_liaison", by=HEAD, contact="Station 4", conditions="blocking the office", channel="duty phone")
    await case.wait_for("report", "change", before + 2)
    await case.act("media_statement", by="Sun Marketing", text="We are repairing.", filed_with="regional marketing")
    await case.wait_for("report", "change", before + 3)
    await case.wait_for("report", "media")  # once the media are involved, the media-contact report goes out at once too


async def test_ordinary_roles_and_an_implementation_plan_with_milestones(open_case):
    """004 §四(二)-(五): only the technician proposes (general), only customer service confirms; the plan has
    an owner and milestones that are deadlines, adjusted with a reason. Old code: anyone, no plan."""
    case = await open_case(roles={"head": HEAD, "cs_owner": CS, "technician": "Tech Liu",
                                  "department:engineering": ENG})
    await case.act("triage", by=CS, severity="general", category="technical")
    assert "technician (Tech Liu)" in await case.refused("solution_proposed", by=ENG, summary="Patch it")
    now = await case.now()
    plan = {"owner": ENG, "milestones": [{"name": "parts ordered", "due_at": (now + timedelta(hours=6)).isoformat()},
                                         {"name": "fitted", "due_at": (now + timedelta(days=2)).isoformat()}]}
    await case.act("solution_proposed", by="Tech Liu", summary="Replace the valve", implementation=plan)
    status = await case.status()
    assert status.implementation["owner"] == ENG
    assert {"milestone:parts ordered", "milestone:fitted"} <= {d.name for d in status.deadlines}
    await case.act("execution_started", by=ENG, department="engineering")
    assert "owner (Zhao Eng)" in await case.refused("adjust_plan", by=CS, reason="late", summary="x")
    later = (now + timedelta(hours=12)).isoformat()
    await case.act("adjust_plan", by=ENG, reason="supplier is a day late",
                   milestones=[{"name": "parts ordered", "due_at": later}, {"name": "fitted",
                                                                         "due_at": (now + timedelta(days=3)).isoformat()}])
    await case.skip(hours=7)
    assert not await case.events("breach", "milestone:parts ordered")  # moved to 12 h by the adjustment
    await case.skip(hours=6)
    assert await case.wait_for("breach", "milestone:parts ordered")
    await case.act("progress_reported", by=CS, milestone="parts ordered")
    await case.act("execution_done", by=ENG)
    assert not [d for d in (await case.status()).deadlines if d.name.startswith("milestone:")]
    assert "only customer service" in await case.refused("resolution_confirmed", by=ENG, satisfied=True)
    assert (await case.act("resolution_confirmed", by=CS, satisfied=True)).stage == Stage.surveying


async def test_important_problems_are_proposed_by_the_convened_experts(open_case):
    """004 §四(二): experts are convened (and told what is expected, by when) and one of them proposes."""
    case = await open_case()
    await case.act("triage", by=CS, severity="important", category="complaint")
    await case.act("convene_experts", by=CS, experts=["Dr Ma", "Eng Hu"], question="Leak or condensation?")
    told = (await case.wait_for("notification", "experts_convened"))[0]
    assert told.detail["roles"] == ["expert", "expert"]
    assert "convened experts (Dr Ma, Eng Hu)" in await case.refused("solution_proposed", by="Tech Liu", summary="x")
    assert (await case.act("solution_proposed", by="Eng Hu", summary="Insulate")).stage == Stage.executing


async def test_the_department_is_told_to_carry_out_the_accepted_plan(open_case):
    """002 §4.4.1.3; old code told nobody. The spokesperson is briefed when media get involved (4.6)."""
    case = await crisis_at_answer(open_case)
    await case.act("customer_answer", by=CS, satisfied=True)
    told = (await case.wait_for("notification", "execute_plan"))[0]
    assert told.detail["roles"] == ["department:engineering"] and told.detail["subject"].endswith("Carry out the plan")
    await case.act("external_involvement", by=CS, party="media", level="local", source="forum post")
    brief = (await case.wait_for("notification", "media_brief"))[0]
    assert brief.detail["roles"] == ["department:marketing"]


async def test_review_follow_ups_are_tracked_with_reminders_until_done(open_case, temporal_env, client):
    """004 §六(一): the review's follow-up actions outlive the case, reminded until done, in `crisis stuck`."""
    from crisisdesk.models.followups import FollowUps, follow_ups_id
    from starter.stuck import find_stuck
    from tests.helpers.fixtures import Case

    case = await general_at_confirmation(open_case)
    await case.act("resolution_confirmed", by=CS, satisfied=True)
    await case.act("survey_response", by=CS, score=4)
    due = (await case.now()) + timedelta(days=2)
    closed = await case.act("review_done", **REVIEW, follow_ups=[
        {"what": "Inspect every roof drain in phase 2", "owner": ENG, "due_at": due.isoformat()}])
    assert closed.stage == Stage.closed and "1 follow-ups tracked" in closed.message
    await case.handle.result()

    tracker = Case(temporal_env, client.get_workflow_handle(follow_ups_id(case.id), result_type=FollowUps))
    await tracker.skip(days=3, minutes=1)  # a day past due: reminded at due and a day later
    plan = await eventually(lambda: tracker.handle.query("follow_ups", result_type=FollowUps),
                            lambda p: p.items[0].reminders >= 2)
    assert plan.items[0].done_at is None
    stuck = await find_stuck(client, now=await tracker.now(), where=f"WorkflowId = '{tracker.id}'")
    assert [(r.reason, r.stage) for r in stuck] == [("overdue", "follow_up")] and ENG in stuck[0].why
    reason = await tracker.refused_raw("follow_up_done", [{"by": CS, "what": "Inspect every roof drain in phase 2"}])
    assert "only its owner (Zhao Eng) or the head (Wang Head)" in reason
    await tracker.handle.execute_update("follow_up_done", {"by": ENG, "what": "Inspect every roof drain in phase 2"},
                                        result_type=FollowUps)
    done = await tracker.handle.result()
    assert done.items[0].done_by == ENG
    await replays(case)  # the child's start is a command of the case: it replays


async def test_triage_shows_the_most_similar_knowledge_base_articles(open_case, pool):
    """004 §六(一): the knowledge base is offered when a similar case is triaged. Old code: never."""
    import uuid

    token = f"valve{uuid.uuid4().hex[:8]}"
    await pool.execute("""INSERT INTO knowledge_articles (key, case_id, title, body, cause, lessons, category, at)
                          VALUES ($1, 'crisis-old-1', $2, 'Replace it.', 'wear', 'inspect', 'technical', now()),
                                 ($3, 'crisis-old-2', 'Lift door sensor', 'Clean it.', 'dust', 'clean', 'technical', now())""",
                       f"kb-{token}", f"Leaking {token} in the plant room", f"kb-other-{token}")
    case = await open_case(summary=f"Water leaking from the {token} behind the boiler")
    result = await case.act("triage", by=CS, severity="general", category="technical")
    assert f"Leaking {token} in the plant room" in result.message
    status = await case.status()
    assert status.similar_articles[0]["title"] == f"Leaking {token} in the plant room"
    suggested = (await case.events("knowledge_suggested"))[0]
    assert suggested.detail["articles"][0]["case_id"] == "crisis-old-1"
    await case.act("cancel", by=HEAD, reason="test over")
    await case.handle.result()
    await replays(case)  # the search is a local activity awaited in the handler: it replays


async def replays(case) -> None:
    from tests.test_replay import replayer

    result = await replayer().replay_workflow(await case.handle.fetch_history(), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


# -- the playbook's new fields: refused when they make no sense ---------------------------------------
def playbook_with(**changes) -> str:
    import json

    data = json.loads(load_playbook("after_sales").model_dump_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize("waits, field", [
    ({"survey": "PT0S"}, "customer_waits.survey"),
    ({"pause_sla": ["first_contact"]}, "first_contact is a crisis timer"),
    ({"pause_sla": ["lunch"]}, "unknown clock"),
])
def test_playbook_refuses_a_zero_survey_period_and_a_paused_crisis_timer(waits, field):
    with pytest.raises(PlaybookError, match=field):
        parse_playbook(playbook_with(customer_waits=waits))


def test_sla_clock_pauses_while_waiting_on_the_customer_when_the_playbook_says_so():
    """Unit level (pure CaseFile): the resolution target moves by the time the customer took."""
    from datetime import datetime, timezone

    from crisisdesk.models.intake import Intake
    from workflows.casefile import CaseFile
    from workflows.steps import apply

    # On the clock (business time pauses in working time: tests/test_business_time.py).
    book = parse_playbook(playbook_with(customer_waits={"pause_sla": ["resolution"]}, business_time=[]))
    t0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
    intake = Intake.model_validate({"intake_id": "pause-1", "channel": "phone", "summary": "Leak",
                                    "potential_crisis": True, "roles": {"head": HEAD, "department:engineering": ENG}})
    case = CaseFile.open("crisis-pause-1", intake, book, t0)
    due = case.state.deadlines["resolution"].due_at
    apply(case, "decide_plan", parse("decide_plan", by=HEAD, summary="Repair", department="engineering"), t0)
    apply(case, "customer_contacted", parse("customer_contacted", by=CS), t0)
    assert case.state.deadlines["resolution"].paused_at == t0
    assert case.next_wakeup() != due
    answered = t0 + timedelta(hours=30)
    case.tick(answered)
    apply(case, "customer_answer", parse("customer_answer", by=CS, satisfied=True), answered)
    resumed = case.state.deadlines["resolution"]
    assert resumed.paused_at is None and resumed.due_at == due + timedelta(hours=30)
    assert [e.kind for e in case.state.events if e.name == "resolution"][-2:] == ["deadline_paused", "deadline_resumed"]


def parse(name: str, **fields):
    from crisisdesk.models.actions import parse_action

    return parse_action(name, fields)


def test_shipped_playbooks_take_the_new_defaults():
    for name in ("after_sales", "delivery", "service"):
        book = load_playbook(name)
        assert book.customer_waits.survey > timedelta(0) and book.contingency_after_rejections == 1
        assert "planning" in book.reporting.key_phases and "revision_approval" in book.deadlines


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
