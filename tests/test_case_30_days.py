"""The issue's acceptance story: a 30-day crisis, scripted, in simulated time.

Two rejections, a principled revision approved by a delegate, provincial media, evidence, a late
progress update, confirmation, survey and review; the timeline must show every deadline, breach,
escalation and report at the right simulated moment.
"""

import base64
import hashlib
from datetime import datetime, timedelta

from crisisdesk.models.case import Stage
from tests.helpers import eventually

HEAD, DEPUTY, CS, ENG = "Wang Head", "Qian Deputy", "Chen CS", "Zhao Eng"


async def test_thirty_day_crisis(open_case, pool):
    case = await open_case(potential_crisis=True, severity="important", category="complaint")
    start = await case.now()

    # Day 0: alert, team, stakeholders, positions, the plan.
    await case.act("acknowledge", by=HEAD)
    await case.act("assign_role", by=HEAD, role="spokesperson", person="Sun Marketing")
    await case.act("add_stakeholder", by=CS, name="Owner Zhou", contact="+86 139 0000 0000", unit="3-1201",
                   household="4 people", key_contact=True, concerns="mould")
    await case.act("set_position", by=CS, concerns="mould and delay", their_bottom_line="full refund",
                   our_bottom_line="repair plus one year service fee", compromise_point="repair plus 6 months",
                   options=["repair", "fee reduction"], risks=["media", "group complaint"])
    await case.act("decide_plan", by=HEAD, summary="Repair walls, dehumidify", department="engineering")
    decided = await case.now()

    # The first contact comes late: breach at exactly 12 h, reminders every 2 h.
    await case.skip(hours=14, minutes=30)
    await case.act("customer_contacted", by=CS)
    await case.act("customer_answer", by=CS, satisfied=False)  # rejection 1

    # A principled revision, approved by the head's delegate within scope.
    await case.act("delegate", by=HEAD, to=DEPUTY, scope=["approve_revision", "decide_plan"],
                   until=(await case.now() + timedelta(days=5)).isoformat(), outside_scope="call the head")
    await case.act("revise_plan", by=ENG, kind="principled", summary="Replace drywall in all rooms")
    approved = await case.act("approve_revision", by=DEPUTY)
    assert "delegate" in approved.message
    await case.act("customer_contacted", by=CS)
    await case.act("customer_answer", by=CS, satisfied=False)  # rejection 2 (contingency on since the first)
    assert (await case.status()).contingency

    await case.act("revise_plan", by=CS, kind="specific", summary="Start work on Saturday")
    await case.act("approve_revision", by=ENG)
    await case.act("customer_contacted", by=CS)

    # Day 2: provincial media, evidence on site.
    await case.skip(days=1)
    await case.act("external_involvement", by=CS, party="media", level="provincial", source="Provincial TV")
    photo = b"\x89PNG fake photo of the wall" * 50
    receipt = await case.act("add_evidence", by=CS, kind="photo", description="Mould behind the wardrobe",
                             content_base64=base64.b64encode(photo).decode(), location="3-1201")
    assert hashlib.sha256(photo).hexdigest() in receipt.message
    await case.act("media_statement", by="Sun Marketing", text="We are repairing", filed_with="regional marketing")
    await case.act("police_liaison", by=HEAD, contact="Riverside station", conditions="crowding on site", channel="110")

    # Day 3: the customer accepts; execution starts; the progress update is late.
    await case.skip(days=1)
    await case.act("customer_answer", by=CS, satisfied=True)
    await case.act("execution_started", by=ENG, department="engineering")
    started = await case.now()
    await case.skip(hours=30)
    await case.act("progress_reported", by=CS)

    # Day 10: done and confirmed; survey; day 30: review.
    await case.skip(days=6)
    await case.act("execution_done", by=ENG)
    await case.act("resolution_confirmed", by=CS, satisfied=True)
    await case.act("compensation", by=HEAD, kind="service fee reduction", amount=1200)
    await case.act("survey_response", by=CS, score=3, timeliness=2, effectiveness=4, attitude=4, comment="slow start")
    await case.skip(days=20)
    closed = await case.act("review_done", by=HEAD, cause="Roof membrane failed", lessons="Inspect membranes at handover",
                            knowledge_title="Mould after roof leaks", knowledge_body="Replace drywall; dehumidify.")
    assert closed.stage == Stage.closed
    final = await case.handle.result()
    timeline = await case.record(pool)
    held = await case.timeline()
    assert len(held) <= 200 < len(timeline) and held == timeline[-len(held):]  # the case keeps a bounded tail

    def at(kind, name):
        return [e.at for e in timeline if e.kind == kind and e.name == name]

    # Every deadline and breach at the right simulated time.
    assert abs(at("breach", "first_contact")[0] - (decided + timedelta(hours=12))) < timedelta(seconds=5)
    assert [round((t - decided).total_seconds() / 3600) for t in at("reminder", "first_contact")] == [14]
    assert abs(at("breach", "progress_update")[0] - (started + timedelta(hours=24))) < timedelta(seconds=5)
    late = [e for e in timeline if e.kind == "deadline_met" and e.name == "progress_update"][0]
    assert late.detail["late_by_seconds"] >= 6 * 3600 - 5
    # The 12 h SLA response clock runs from received_at and was met by the first contact.
    assert "response" in {e.name for e in timeline if e.kind == "deadline_met"}

    # Reports: at once on the major changes, then daily while the contingency is on.
    daily = at("report", "daily")
    assert len(daily) >= 25
    due = [datetime.fromisoformat(e.detail["due_at"]) for e in timeline if e.kind == "report_due" and e.name == "daily"]
    assert {b - a for a, b in zip(due, due[1:])} == {timedelta(days=1)}
    assert len(at("report", "change")) >= 2 and len(at("report", "final")) == 1
    assert at("notification", "media_alert") and at("evidence", "photo") and at("knowledge", "Mould after roof leaks")

    assert final.counts["rejections"] == 2 and final.counts["revisions"] == 2 and final.counts["evidence"] == 1
    assert (timeline[-1].at - start) > timedelta(days=29, hours=18)

    # PostgreSQL holds the same record, event for event.
    rows = await eventually(
        lambda: pool.fetch("SELECT seq, kind, name FROM timeline_events WHERE case_id = $1 ORDER BY seq", case.id),
        lambda r: len(r) == len(timeline))
    assert [(r["seq"], r["kind"], r["name"]) for r in rows] == [(e.seq, e.kind, e.name) for e in timeline]
    assert "139 0000" not in str([e.detail for e in timeline])  # personal data stays out of the timeline
