"""Authority and bad input: every refusal says why, is recorded, and leaves the case unchanged."""

from datetime import timedelta

from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

from crisisdesk.models.case import Stage


async def test_delegate_within_scope_outside_scope_after_expiry_and_revocation(open_case):
    case = await open_case(potential_crisis=True)
    now = await case.now()
    await case.act("delegate", by="Wang Head", to="Qian Deputy", scope=["decide_plan"],
                   until=(now + timedelta(hours=6)).isoformat(), outside_scope="phone the head on 2nd line")
    status = await case.status()
    assert status.delegation.to == "Qian Deputy" and status.delegation.scope == ["decide_plan"]

    reason = await case.refused("cancel", by="Qian Deputy", reason="false alarm")
    assert "only the head (Wang Head)" in reason
    await case.act("decide_plan", by="Qian Deputy", summary="Repair", department="engineering")
    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    await case.act("revise_plan", by="Zhao Eng", kind="principled", summary="Replace")
    reason = await case.refused("approve_revision", by="Qian Deputy")
    assert "outside Qian Deputy's delegated scope (decide_plan)" in reason and "phone the head" in reason

    await case.act("delegate", by="Wang Head", to="Qian Deputy", scope=["decide_plan", "approve_revision"],
                   until=(now + timedelta(hours=6)).isoformat(), outside_scope="phone the head")
    await case.act("revoke_delegation", by="Wang Head")
    assert "only the head" in await case.refused("approve_revision", by="Qian Deputy")

    await case.act("delegate", by="Wang Head", to="Qian Deputy", scope=["approve_revision"],
                   until=(now + timedelta(hours=2)).isoformat(), outside_scope="phone the head")
    await case.skip(hours=2, minutes=1)
    await case.wait_for("delegation_expired")
    assert (await case.status()).delegation is None
    assert "only the head" in await case.refused("approve_revision", by="Qian Deputy")
    assert (await case.act("approve_revision", by="Wang Head")).stage == Stage.contacting


async def test_expired_delegation_names_its_expiry(open_case):
    case = await open_case(potential_crisis=True)
    now = await case.now()
    await case.act("delegate", by="Wang Head", to="Qian Deputy", scope=["decide_plan"],
                   until=(now + timedelta(minutes=10)).isoformat(), outside_scope="phone the head")
    assert "delegate: until must be in the future" in await case.refused(
        "delegate", by="Wang Head", to="X", scope=["decide_plan"], until=now.isoformat(), outside_scope="-")
    assert "scope may hold only" in await case.refused(
        "delegate", by="Wang Head", to="X", scope=["cancel"], until=(now + timedelta(hours=1)).isoformat(), outside_scope="-")


async def test_bad_updates_are_refused_with_field_and_reason(open_case):
    case = await open_case()
    before = await case.status()
    assert "severity: Input should be 'general', 'important' or 'urgent'" in await case.refused(
        "triage", by="Chen CS", severity="huge", category="technical")
    assert "by: Field required" in await case.refused("note", text="hello")
    assert "colour: Extra inputs are not permitted" in await case.refused("note", by="A", text="x", colour="red")
    assert "unknown action 'shout'" in await case.refused("shout", by="A")
    assert "the case is at reported" in await case.refused("execution_done", by="Zhao Eng")
    assert "only the head (Wang Head)" in await case.refused("cancel", by="Chen CS", reason="dup")
    after = await case.status()
    assert after.stage == before.stage and after.counts.get("actions", 0) == before.counts.get("actions", 0)


async def test_bad_signals_are_recorded_never_dropped(open_case):
    case = await open_case()
    await case.signal("triage", {"by": "Chen CS", "severity": "huge", "category": "technical"})
    await case.signal("note", ["not", "an", "object"])
    await case.signal("note")
    await case.signal("shout", {"by": "Chen CS"})
    garbage = RawValue(Payload(metadata={"encoding": b"json/plain"}, data=b"{not json"))
    await case.signal("note", garbage)
    await case.signal("cancel", {"by": "Chen CS", "reason": "dup"})
    await case.signal("note", {"by": "Chen CS", "text": "still fine"})

    rejected = await case.wait_for("rejected", count=6)
    reasons = {e.name: e.detail["reason"] for e in rejected}
    assert "severity" in reasons["triage"]
    assert "unknown action 'shout'" in reasons["shout"]
    assert "only the head" in reasons["cancel"]
    notes = [e.detail["reason"] for e in rejected if e.name == "note"]
    assert any("got list" in r for r in notes) and any("got nothing" in r for r in notes)
    assert any("not valid JSON" in r for r in notes)
    assert all(e.detail["via"] == "ui-signal" for e in rejected)  # no crisisdesk headers: the Web UI or an SDK
    status = await case.status()
    assert status.stage == Stage.reported and status.counts["rejected"] == 6
    assert (await case.events("action", "note"))[0].detail["text"] == "still fine"


async def test_duplicate_intake_is_the_same_case(open_case, temporal_env, task_queue):
    from temporalio.common import WorkflowIDConflictPolicy

    case = await open_case()
    intake = (await case.handle.describe()).id
    again = await temporal_env.client.start_workflow(
        "CrisisWorkflow", {"intake_id": intake.removeprefix("crisis-"), "summary": "again"}, id=intake,
        task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    assert again.result_run_id == case.handle.result_run_id
