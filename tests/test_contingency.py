"""The contingency as owned, timed work (issue 26; 002 §4.4.1.4, 4.5.1, 4.5.3, 4.6), and the plan's
department in the loop (4.4.1.1, 4.4.1.3), on the real dev server."""

from datetime import timedelta

from temporalio.api.sdk.v1 import WorkflowMetadata

from crisisdesk.models.case import Stage
from tests.helpers import eventually

ROLES = {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS",
         "department:engineering": "Zhao Eng", "department:marketing": "Sun Marketing",
         "department:hr": "Qian HR", "department:property": "Zhou Property"}


async def rejected_case(open_case):
    case = await open_case(potential_crisis=True, roles=ROLES)
    await case.act("acknowledge", by="Wang Head")
    await case.act("decide_plan", by="Wang Head", summary="Repair the roof", department="engineering")
    await case.act("customer_contacted", by="Chen CS")
    return case


async def test_rejection_opens_owned_timed_tasks_escalates_a_miss_and_only_the_head_stands_down(open_case):
    case = await rejected_case(open_case)
    refused = await case.refused("contingency_task_done", by="Qian HR", name="police_liaison")
    assert "no contingency runs" in refused and "head (Wang Head)" in refused

    await case.act("customer_answer", by="Chen CS", satisfied=False, note="wants a full repaint")
    # The plan's department is told the reason and the 1 h revision deadline (4.4.1.1).
    told = (await case.wait_for("notification", "revise_plan"))[0]
    assert "department:engineering" in told.detail["roles"]
    status = await case.status()
    revision = next(d for d in status.deadlines if d.name == "revision")
    started = status.contingency.started_at
    assert revision.due_at - started == timedelta(hours=1)

    tasks = {t.name: t for t in status.contingency.tasks}
    assert len(tasks) >= 4 and status.contingency.stood_down_at is None
    assert all(t.owner and t.due_at > started and t.done_at is None and not t.breached for t in tasks.values())
    assert tasks["police_liaison"].owner == "department:hr" and tasks["police_liaison"].person == "Qian HR"
    assert {"contingency:police_liaison", "contingency:onsite_reception"} <= {d.name for d in status.deadlines}
    assert (await case.wait_for("notification", "contingency"))[0].detail["roles"][:3] == \
        ["head", "regional_cs", "department:crisis_team"]

    # The case sheet (the Web UI's Current Details) shows what is open, with owners.
    async def sheet():
        meta = await case.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        return meta.current_details
    shown = await eventually(sheet, lambda text: "**Contingency tasks**" in text)
    assert "- police_liaison: department:hr (Qian HR) · due" in shown

    # Bad input: an unknown task, someone who is neither its owner nor the head.
    unknown = await case.refused("contingency_task_done", by="Wang Head", name="fireworks")
    assert "'fireworks' is not a task" in unknown and "police_liaison" in unknown
    stranger = await case.refused("contingency_task_done", by="Chen CS", name="evidence_capture")
    assert "department:property (Zhou Property)" in stranger and "head (Wang Head)" in stranger
    assert len(await case.events("rejected", "contingency_task_done")) == 3  # each refusal recorded

    # Its owner marks one done; the head may mark any.
    done = await case.act("contingency_task_done", by="Qian HR", name="police_liaison", note="Station 4 briefed")
    assert "police_liaison done" in done.message
    await case.act("contingency_task_done", by="Wang Head", name="government_liaison")

    # A task missed: marked breached, then escalated to the head (owner, then head, then regional CS).
    await case.skip(hours=2, minutes=1)
    breach = (await case.wait_for("breach", "contingency:onsite_reception"))[0]
    assert breach.detail["notified"] == ["cs_owner"]
    assert next(t for t in (await case.status()).contingency.tasks if t.name == "onsite_reception").breached
    await case.skip(hours=1)
    escalated = (await case.wait_for("escalated", "contingency:onsite_reception"))[0]
    assert "head" in escalated.detail["notified"]
    late = await case.act("contingency_task_done", by="Chen CS", name="onsite_reception")
    assert "(late)" in late.message

    # The work recorded by its own action completes the task: a statement filed (4.6).
    await case.act("media_statement", by="Sun Marketing", text="We are repairing the roof.", filed_with="regional marketing")
    filed = next(t for t in (await case.status()).contingency.tasks if t.name == "statement_filed")
    assert filed.done_with == "media_statement" and filed.done_by == "Sun Marketing"

    # Only the head stands it down; the open tasks close and the stand-down is reported at once.
    assert "only the head (Wang Head)" in await case.refused("contingency_stand_down", by="Chen CS", reason="calm")
    down = await case.act("contingency_stand_down", by="Wang Head", reason="the owners accepted the revised plan")
    assert "evidence_capture" in down.message
    status = await case.status()
    run = status.contingency
    assert run.stood_down_at is not None and run.stood_down_by == "Wang Head" and not run.active
    closed = {t.name for t in run.tasks if t.closed_at is not None}
    assert closed == {"evidence_capture", "media_report", "third_party_support"}
    assert not [d for d in status.deadlines if d.name.startswith("contingency:")]
    stood = (await case.wait_for("contingency", "stood_down"))[0]
    assert stood.detail["reason"] == "the owners accepted the revised plan"
    reported = await eventually(lambda: case.events("report", "change"),
                                lambda found: any(r.seq > stood.seq for r in found))  # reported at once
    assert reported
    after = await case.refused("contingency_task_done", by="Wang Head", name="media_report")
    assert "it was stood down" in after
    assert "no contingency runs" in await case.refused("contingency_stand_down", by="Wang Head", reason="again")


async def test_bad_input_to_the_contingency_actions_is_refused_and_recorded(open_case):
    case = await rejected_case(open_case)
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    assert "name" in await case.refused("contingency_task_done", by="Wang Head")
    assert "reason" in await case.refused("contingency_stand_down", by="Wang Head")
    assert "name" in await case.refused("contingency_task_done", by="Wang Head", name="")
    await case.act("contingency_task_done", by="Wang Head", name="government_liaison")
    twice = await case.refused("contingency_task_done", by="Wang Head", name="government_liaison")
    assert "done already" in twice
    assert len(await case.events("rejected")) >= 4
    assert (await case.status()).stage == Stage.revising


async def test_an_accepted_plan_starts_the_execution_start_deadline_before_the_progress_clock(open_case):
    case = await rejected_case(open_case)
    await case.act("customer_answer", by="Chen CS", satisfied=True)
    status = await case.status()
    assert status.contingency is None
    start = next(d for d in status.deadlines if d.name == "execution_start")
    accepted = (await case.events("action", "customer_answer"))[0]
    assert start.due_at - accepted.at == timedelta(hours=4)  # the delivery playbook's value
    assert "progress_update" not in {d.name for d in status.deadlines}
    told = (await case.wait_for("notification", "execute_plan"))[0]
    assert told.detail["roles"] == ["department:engineering"]
    await case.skip(hours=4, minutes=1)
    breach = (await case.wait_for("breach", "execution_start"))[0]
    assert "head" in breach.detail["notified"]
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    met = (await case.events("deadline_met", "execution_start"))[0]
    assert met.detail["late_by_seconds"] > 0
    assert "progress_update" in {d.name for d in (await case.status()).deadlines}


def test_the_final_report_lists_the_contingency_tasks_with_owners_and_times():
    from activities.report_render import render
    from crisisdesk.models.case import ContingencyStatus, ContingencyTaskStatus
    from tests.helpers.activity_samples import T0, make_events, make_status

    hour = timedelta(hours=1)
    run = ContingencyStatus(started_at=T0, stood_down_at=T0 + 30 * hour, stood_down_by="Zhang San", reason="calm", tasks=[
        ContingencyTaskStatus(name="police_liaison", owner="department:hr", person="Qian HR <qian@example.com>",
                              due_at=T0 + 4 * hour, done_at=T0 + 2 * hour, done_by="Qian HR <qian@example.com>"),
        ContingencyTaskStatus(name="statement_filed", owner="spokesperson", due_at=T0 + 12 * hour,
                              done_at=T0 + 20 * hour, done_by="Sun", breached=True),
        ContingencyTaskStatus(name="media_report", owner="department:marketing", due_at=T0 + 24 * hour,
                              closed_at=T0 + 30 * hour)])
    status = make_status("crisis-t-report", stage="closed", contingency=run)
    page = render("final", "closed", status, make_events("decide_plan"), T0 + 40 * hour)
    assert "## Contingency tasks" in page.markdown and "<h2>Contingency tasks</h2>" in page.html
    row = next(line for line in page.markdown.splitlines() if line.startswith("| police_liaison"))
    assert "department:hr (Qian HR)" in row and "qian@example.com" not in page.markdown
    assert "late and escalated" in page.markdown and "closed by the stand-down" in page.markdown
    assert "Contingency tasks" not in render("media", "weekly", status, [], T0).markdown  # a media report names nobody
    assert make_status("crisis-t-old", contingency=True).contingency is not None  # a status written as a flag
