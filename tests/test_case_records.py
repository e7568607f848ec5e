"""How a case keeps its record: the opening goes to PostgreSQL with the activity that loads the playbook,
what a later task changed goes once, and receipts of deliveries wait for the deliveries still under
way, so a burst of them costs one local activity, not one each."""

import json

from crisisdesk.models.case import Stage
from tests.helpers import eventually


async def recorded_tasks(case) -> list[int]:
    """The workflow tasks (by their WORKFLOW_TASK_COMPLETED event id) in which the case called record_timeline."""
    tasks, completed = [], 0
    for event in (await case.handle.fetch_history()).events:
        if event.HasField("workflow_task_completed_event_attributes"):
            completed = event.event_id
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "data" in details and json.loads(details["data"].payloads[0].data).get("activity_type") == "record_timeline":
                tasks.append(completed)
    return tasks


async def test_the_openings_deliveries_go_on_the_record_together(open_case, pool):
    case = await open_case(potential_crisis=True)  # an alert, a risk warning and a change report at once
    sent = {"risk_warning", "alert", "change", "report", "acknowledgement"}  # and the reporter's acknowledgement
    receipts = await eventually(case.timeline, lambda t: sent <= {e.name for e in t if e.kind in ("notification", "report")})
    status = await eventually(case.status, lambda s: s.unrecorded == 0)
    assert status.stage == Stage.alerting
    # The opening went with open_case; one record for all the receipts (they finished in one, two or
    # three tasks).
    assert len(await recorded_tasks(case)) == 1
    record = await case.record(pool)
    opened = [e for e in record if e.kind == "opened"]
    assert len(opened) == 1 and opened[0].seq == 1
    in_postgres = [e for e in record if e.kind in ("notification", "report")]
    assert in_postgres == [e for e in receipts if e.kind in ("notification", "report")]

    # An action goes on the record in its own task, receipts or not.
    await case.act("acknowledge", by="Wang Head")
    await eventually(case.status, lambda s: s.unrecorded == 0)
    assert len(await recorded_tasks(case)) == 2
