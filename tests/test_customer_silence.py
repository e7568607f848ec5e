"""Silence is not satisfaction (issue 24): a customer who never confirms the resolution is not counted as
resolved. The case records the resolution as unconfirmed, opens a call-back deadline for customer service
(breached and escalated when missed), and the metrics count it apart; a call-back where the customer says
it is solved confirms it. Real workflow, simulated time, PostgreSQL's metrics."""

import uuid
from datetime import UTC, datetime, timedelta

from activities.metrics import compute_metrics
from crisisdesk.models.case import Stage
from crisisdesk.models.metrics import MetricsQuery
from tests.helpers import eventually


async def test_silence_opens_a_call_back_and_counts_as_unconfirmed(open_case, pool):
    project = f"P-S-{uuid.uuid4().hex[:6]}"
    case = await open_case(project={"id": project, "name": "Silent Gardens", "region": "east"})
    for action, fields in [("triage", {"by": "Chen CS", "severity": "general", "category": "technical"}),
                           ("customer_contacted", {"by": "Chen CS", "channel": "phone"}),
                           ("solution_proposed", {"by": "Tech Liu", "summary": "Reseal the pipe joint"}),
                           ("execution_started", {"by": "Tech Liu", "department": "maintenance"}),
                           ("execution_done", {"by": "Tech Liu"})]:
        await case.act(action, **fields)
    assert (await case.status()).stage == Stage.confirming
    assert "no call-back is open" in await case.refused("customer_called_back", by="Chen CS", reached=True)

    await case.skip(days=8)  # the confirmation period (7 days) ends unanswered
    unconfirmed = (await case.wait_for("resolution_unconfirmed"))[0]
    status = await case.status()
    assert status.stage == Stage.reviewing
    open_deadlines = {d.name: d for d in status.deadlines}
    assert "customer_callback" in open_deadlines
    assert open_deadlines["resolution"].paused_at is not None  # stopped, not met
    assert not [e for e in await case.events("deadline_met") if e.name == "resolution"]
    told = (await case.wait_for("notification", "customer_callback"))[0]
    assert told.at >= unconfirmed.at and "Chen CS" in told.detail["people"]

    await case.skip(days=2)  # nobody called back: the call-back is breached and escalated
    await case.wait_for("breach", "customer_callback")

    query = MetricsQuery(since=datetime.now(UTC) - timedelta(days=1), until=datetime.now(UTC) + timedelta(days=30),
                         project=project)
    report = await eventually(lambda: compute_metrics(pool, query), lambda r: r.resolutions_unconfirmed == 1)
    assert report.cases_resolved == 0 and report.resolutions_confirmed == 0 and report.resolution_rate == 0

    # Customer service calls back; the customer says it is solved: confirmed, by phone.
    result = await case.act("customer_called_back", by="Chen CS", reached=True, satisfied=True, note="dry since Monday")
    assert "confirmed the resolution by phone" in result.message
    met = {e.name for e in await case.events("deadline_met")}
    assert {"customer_callback", "resolution"} <= met
    report = await eventually(lambda: compute_metrics(pool, query), lambda r: r.resolutions_confirmed == 1)
    assert report.resolutions_unconfirmed == 0 and report.cases_resolved == 1
    assert "no call-back is open" in await case.refused("customer_called_back", by="Chen CS", reached=False)
