"""The crisis path (002 §4.3-4.6): alert, plan, contact, answer, revise or explain, execute, report."""

from datetime import timedelta

from crisisdesk.models.case import Stage
from crisisdesk.names import SA_BREACHED
from tests.helpers import eventually


async def test_alert_is_escalated_until_acknowledged(open_case):
    case = await open_case(potential_crisis=True)
    status = await case.status()
    assert status.stage == Stage.alerting and status.path == "crisis"
    alerts = await case.wait_for("notification", "alert")
    assert alerts[0].detail["roles"] == ["head", "regional_cs"]
    due = next(d for d in status.deadlines if d.name == "alert_acknowledgement").due_at

    await case.skip(minutes=31)
    breach = (await case.events("breach", "alert_acknowledgement"))[0]
    assert breach.at >= due and breach.at - due < timedelta(minutes=1)
    await case.skip(minutes=61)  # two reminders at 30 min, then the next level with the crisis team
    steps = [e.kind for e in await case.events(name="alert_acknowledgement") if e.kind in ("breach", "reminder", "escalated")]
    assert steps == ["breach", "reminder", "reminder"]
    await case.skip(minutes=30)
    escalated = (await case.events("escalated", "alert_acknowledgement"))[0]
    assert "department:crisis_team" in escalated.detail["notified"]

    await case.act("acknowledge", by="Li Regional")
    status = await case.status()
    assert status.stage == Stage.planning
    assert "alert_acknowledgement" not in {d.name for d in status.deadlines}
    await case.skip(hours=3)  # no more reminders once acknowledged
    assert len(await case.events("reminder", "alert_acknowledgement")) == 2


async def test_first_contact_breach_sets_search_attribute_and_escalates(open_case, client):
    case = await open_case(potential_crisis=True)
    await case.act("acknowledge", by="Wang Head")
    await case.act("decide_plan", by="Wang Head", summary="Repair and compensate", department="engineering")
    status = await case.status()
    first = next(d for d in status.deadlines if d.name == "first_contact")
    decided = (await case.events("action", "decide_plan"))[0]
    assert first.due_at - decided.at == timedelta(hours=12)

    await case.skip(hours=11, minutes=59)
    assert not await case.events("breach", "first_contact")
    await case.skip(minutes=2)
    breach = (await case.wait_for("breach", "first_contact"))[0]
    assert breach.at - first.due_at < timedelta(minutes=1)
    assert breach.detail["notified"] == ["head", "regional_cs"]
    assert (await case.status()).deadlines[0].breached or any(d.breached for d in (await case.status()).deadlines)

    async def breached():
        return [w.id async for w in client.list_workflows(f"WorkflowId = '{case.id}' AND CrisisBreached = true")]
    assert await eventually(breached, lambda ids: ids == [case.id])

    late = await case.act("customer_contacted", by="Chen CS", channel="phone")
    assert late.stage == Stage.awaiting_answer
    met = (await case.events("deadline_met", "first_contact"))[0]
    assert met.detail["late_by_seconds"] > 0
    desc = await case.handle.describe()
    assert desc.typed_search_attributes.get(SA_BREACHED) in (True, False)  # attribute exists and is typed


async def test_rejection_revision_and_principled_approval(open_case):
    case = await open_case(potential_crisis=True)
    await case.act("decide_plan", by="Wang Head", summary="Repair", department="engineering")
    await case.act("customer_contacted", by="Chen CS")
    answer = await case.act("customer_answer", by="Chen CS", satisfied=False)
    assert answer.stage == Stage.revising
    revision = next(d for d in (await case.status()).deadlines if d.name == "revision")
    assert revision.due_at - (await case.events("action", "customer_answer"))[0].at == timedelta(hours=1)

    await case.act("revise_plan", by="Zhao Eng", kind="principled", summary="Replace instead of repair")
    reason = await case.refused("approve_revision", by="Zhao Eng")
    assert "head (Wang Head)" in reason  # a principled change needs the head
    approved = await case.act("approve_revision", by="Wang Head")
    assert approved.stage == Stage.contacting
    assert (await case.status()).plan.summary == "Replace instead of repair"

    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    status = await case.status()
    assert status.contingency  # rejected twice: the contingency starts beside the negotiation
    await case.act("revise_plan", by="Chen CS", kind="specific", summary="Start on Monday")
    reason = await case.refused("approve_revision", by="Chen CS")
    assert "engineering department (Zhao Eng)" in reason
    assert (await case.act("approve_revision", by="Zhao Eng")).stage == Stage.contacting


async def test_revision_deadline_breach_at_one_hour(open_case):
    case = await open_case(potential_crisis=True)
    await case.act("decide_plan", by="Wang Head", summary="Repair", department="engineering")
    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    await case.skip(minutes=61)
    breach = (await case.wait_for("breach", "revision"))[0]
    assert breach.detail["notified"] == ["head"]


async def test_not_adjustable_plan_explained_then_executed_with_progress(open_case):
    case = await open_case(potential_crisis=True)
    await case.act("decide_plan", by="Wang Head", summary="Repair", department="engineering")
    await case.act("customer_contacted", by="Chen CS")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    result = await case.act("plan_not_adjustable", by="Zhao Eng", reason="Structural rules forbid it")
    assert result.stage == Stage.explaining
    status = await case.status()
    assert status.contingency and "explanation" in {d.name for d in status.deadlines}
    await case.skip(hours=12, minutes=1)
    assert await case.wait_for("breach", "explanation")
    assert (await case.act("explained", by="Chen CS", understood=True)).stage == Stage.executing

    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.skip(hours=24, minutes=1)
    breach = (await case.wait_for("breach", "progress_update"))[0]
    assert breach.detail["notified"] == ["head"]
    await case.act("progress_reported", by="Chen CS")
    await case.act("execution_done", by="Zhao Eng")
    assert (await case.status()).stage == Stage.confirming
    # Contingency on: daily reports while the crisis is hot.
    assert await case.wait_for("report", "daily")


async def test_media_statement_only_by_spokesperson_and_provincial_media_alerts_marketing(open_case):
    case = await open_case()
    reason = await case.refused("media_statement", by="Chen CS", text="We are on it", filed_with="regional marketing")
    assert "spokesperson (Sun Marketing)" in reason
    await case.act("media_statement", by="Sun Marketing", text="We are on it", filed_with="regional marketing")
    await case.act("assign_role", by="Wang Head", role="spokesperson", person="Hu Press")
    assert "Hu Press" in await case.refused("media_statement", by="Sun Marketing", text="x", filed_with="y")

    result = await case.act("external_involvement", by="Chen CS", party="media", level="provincial", source="Evening News")
    status = await case.status()
    assert status.path == "crisis" and status.contingency and result.stage == Stage.alerting
    await case.wait_for("notification", "alert")
    media = (await case.wait_for("notification", "media_alert"))[0]  # deliveries finish in any order
    await case.wait_for("notification", "external")  # deliveries finish in any order
    assert "department:regional_marketing" in media.detail["roles"]
    assert await case.wait_for("report", "change")
