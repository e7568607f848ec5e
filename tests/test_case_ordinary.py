"""The ordinary path (004 §四): triage, solution, execution, confirmation, survey, review."""

from crisisdesk.models.case import Stage
from tests.helpers import eventually


async def test_general_problem_runs_from_intake_to_closure(open_case, pool):
    case = await open_case()
    status = await case.status()
    assert status.stage == Stage.reported and status.path == "ordinary"
    assert {d.name for d in status.deadlines} == {"acknowledgement", "response", "resolution"}

    await case.act("triage", by="Chen CS", severity="general", category="technical")
    await case.act("solution_proposed", by="Tech Liu", summary="Reseal the roof drain")
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.act("progress_reported", by="Chen CS")
    await case.act("execution_done", by="Zhao Eng")
    result = await case.act("resolution_confirmed", by="Chen CS", satisfied=False)
    assert result.stage == Stage.solving  # not satisfied: re-assessed (004 §四(五))
    await case.act("solution_proposed", by="Tech Liu", summary="Replace the membrane")
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.act("execution_done", by="Zhao Eng")
    await case.act("resolution_confirmed", by="Chen CS", satisfied=True)
    await case.act("survey_response", by="Chen CS", score=4, timeliness=4, effectiveness=5, attitude=4)
    final = await case.act("review_done", by="Wang Head", cause="Blocked drain", lessons="Inspect drains at handover",
                           knowledge_title="Roof drain leaks after handover", knowledge_body="Reseal, then replace.")
    assert final.stage == Stage.closed
    result = await case.handle.result()
    assert result.stage == Stage.closed and result.deadlines == []

    kinds = [e.kind for e in await case.timeline()]
    assert "survey_sent" in kinds and "knowledge" in kinds and "report" in kinds
    rows = await eventually(lambda: pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", case.id),
                            lambda n: n == len(kinds))
    assert rows == len(kinds)


async def test_important_problem_needs_experts(open_case):
    case = await open_case()
    await case.act("triage", by="Chen CS", severity="important", category="complaint")
    reason = await case.refused("solution_proposed", by="Tech Liu", summary="Fix it")
    assert "experts" in reason
    # Rules 3: the convened experts propose, not the technician (004 §四(二)).
    assert "convened experts (Dr Ma, Eng Hu)" in await case.refused(
        "solution_proposed", by="Tech Liu", summary="Fix it", experts=["Dr Ma", "Eng Hu"])
    await case.act("solution_proposed", by="Dr Ma", summary="Fix it", experts=["Dr Ma", "Eng Hu"])
    assert (await case.status()).stage == Stage.executing


async def test_sla_clocks_start_when_the_customer_reported(open_case):
    from datetime import timedelta

    case = await open_case()
    now = await case.now()
    late = await open_case(received_at=(now - timedelta(hours=5)).isoformat(), severity="general")
    status = await late.status()
    due = {d.name: d.due_at for d in status.deadlines}
    assert due["response"] == status.received_at + timedelta(hours=24)
    assert due["acknowledgement"] == status.received_at + timedelta(hours=4)
    # Typed in 5 h after the call: the 4 h acknowledgement target is already breached.
    breach = (await late.wait_for("breach", "acknowledgement"))[0]
    assert breach.detail["notified"] == ["cs_owner", "regional_cs"]
    assert (await case.status()).deadlines and not any(d.breached for d in (await case.status()).deadlines)


async def test_cancel_is_for_the_head_and_ends_the_case(open_case):
    case = await open_case()
    assert "only the head (Wang Head)" in await case.refused("cancel", by="Chen CS", reason="duplicate")
    result = await case.act("cancel", by="Wang Head", reason="duplicate of crisis-it-1")
    assert result.stage == Stage.cancelled
    final = await case.handle.result()
    assert final.stage == Stage.cancelled and final.deadlines == [] and final.next_owner is None
