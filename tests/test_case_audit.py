"""Temporal's own buttons cannot end a case behind its back (issue 20, item 7): a case terminated with the
client, as the Web UI's Terminate does, is listed by `crisis stuck`, and the case audit (the workflow the
`crisis-case-audit` Schedule starts, on the test's worker) records it on the timeline, marks its record
`terminated` so nothing counts it open, and tells the admins, once. A Reset is recorded as `reset`, and
its new run keeps the case open. Real Temporal, PostgreSQL, worker and CLI.
"""

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from typer.testing import CliRunner

from activities.gauges import OPEN
from activities.metrics import compute_metrics
from crisisdesk.models.audit import AUDIT_WORKFLOW, AuditRequest, AuditResult
from crisisdesk.models.case import TimelineEvent
from crisisdesk.models.metrics import MetricsQuery
from crisisdesk.words import what_happened
from starter.cli import app as cli
from starter.stuck import OUTSIDE, find_stuck
from tests.helpers import eventually


async def _recorded(pool, case) -> str:
    """The stage the record holds, once the case has recorded all it knows: no record still in flight that
    could land after the test reads the timeline's last seq."""
    await eventually(case.status, lambda status: status.unrecorded == 0)
    return await eventually(lambda: pool.fetchval("SELECT stage FROM cases WHERE case_id = $1", case.id), bool)


@pytest.fixture
async def admin(pool):
    """A directory person with role `admin`, so the audit's notification reaches someone (disabled after)."""
    await pool.execute("INSERT INTO people (person_id, display_name, roles) VALUES ('audit-admin', 'Admin', '{admin}') "
                       "ON CONFLICT (person_id) DO UPDATE SET disabled_at = NULL")
    yield "audit-admin"
    await pool.execute("UPDATE people SET disabled_at = now() WHERE person_id = 'audit-admin'")


async def _sweep(client, task_queue: str, where: str) -> AuditResult:
    return await client.execute_workflow(AUDIT_WORKFLOW, AuditRequest(where=where), id=f"audit-{uuid.uuid4().hex[:8]}",
                                         task_queue=task_queue, result_type=AuditResult)


def _stuck_cli(client, dsn: str, where: str):
    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host, "DATABASE_URL": dsn, "CRISIS_DEBUG": ""}
    return CliRunner().invoke(cli, ["stuck", "--where", where, "--json"], env=env)


async def test_a_terminated_case_is_listed_recorded_marked_and_admins_are_told_once(open_case, client, pool, dsn,
                                                                                    task_queue, admin):
    project = f"P-audit-{uuid.uuid4().hex[:6]}"
    case = await open_case(project={"id": project, "name": "Audit", "region": "east"})
    stage = await _recorded(pool, case)
    await case.handle.terminate(reason="test")
    where = f"WorkflowId = '{case.id}'"

    # Before the audit: `crisis stuck` lists it, the record still says open.
    rows = await eventually(lambda: find_stuck(client, where=where, pool=pool), lambda rows: bool(rows))
    [row] = rows
    assert row.reason == OUTSIDE == "terminated outside crisisdesk" and row.stage == stage
    assert "Temporal's Terminate" in row.why and ": test;" in row.why and f"record still says {stage}" in row.why
    assert "Reset it in the Web UI" in row.unstick and "`cancel`" in row.unstick

    last = await pool.fetchval("SELECT max(seq) FROM timeline_events WHERE case_id = $1", case.id)
    result = await _sweep(client, task_queue, where)
    [found] = result.found
    assert (found.case_id, found.kind, found.reason, found.seq) == (case.id, "terminated", "test", last + 1)
    assert found.identity and result.notified == 1

    # The timeline: one `terminated` event after the last recorded one, with who and why.
    event = await pool.fetchrow("SELECT * FROM timeline_events WHERE case_id = $1 AND kind = 'terminated'", case.id)
    assert event["seq"] == last + 1 and event["name"] == "temporal" and event["by_person"] is None
    assert event["detail"]["reason"] == "test" and event["detail"]["run_id"] == found.run_id
    assert event["detail"]["temporal_identity"] == found.identity and event["detail"]["via"] == "temporal"
    words = what_happened(TimelineEvent(seq=event["seq"], at=event["at"], kind=event["kind"], name=event["name"],
                                        detail=event["detail"]))
    assert words == f"terminated outside crisisdesk, in Temporal by {found.identity}: test"

    # The record: terminated, no next deadline, and not open for the gauges (nor the metrics, from the event).
    record = await pool.fetchrow("SELECT stage, next_deadline FROM cases WHERE case_id = $1", case.id)
    assert (record["stage"], record["next_deadline"]) == ("terminated", None)
    assert await pool.fetchval(f"SELECT count(*) FROM cases WHERE case_id = $1 AND {OPEN}", case.id) == 0
    now = datetime.now(timezone.utc)
    figures = await compute_metrics(pool, MetricsQuery(since=now - timedelta(days=1), until=now, project=project))
    assert (figures.cases_opened, figures.cases_terminated, figures.cases_open) == (1, 1, 0)

    # The admins were told.
    told = await pool.fetchrow("SELECT kind, subject, body, recipients FROM notifications WHERE key = $1",
                               f"case-audit:{found.run_id}")
    assert told["kind"] == "terminated" and told["recipients"] == [{"role": "admin", "person": admin}]
    assert told["subject"] == f"[{case.id}] Terminated outside crisisdesk" and ": test." in told["body"]

    # A second sweep does nothing.
    again = await _sweep(client, task_queue, where)
    assert again.found == [] and again.notified == 0
    assert await pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1 AND kind = 'terminated'",
                               case.id) == 1
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE case_id = $1 AND kind = 'terminated'",
                               case.id) == 1

    # `crisis stuck` still lists it (nothing runs it now), saying the audit recorded it.
    listed = await asyncio.to_thread(_stuck_cli, client, dsn, where)
    assert listed.exit_code == 0, listed.output
    [shown] = json.loads(listed.stdout)
    assert shown["case_id"] == case.id and shown["reason"] == "terminated outside crisisdesk"
    assert shown["stage"] == "terminated" and "the case audit recorded it and told the admins" in shown["why"]


async def test_a_reset_case_is_recorded_as_reset_and_stays_open(open_case, client, pool, task_queue, admin):
    case = await open_case()
    stage = await _recorded(pool, case)
    old = await case.handle.describe()
    history = await case.handle.fetch_history()
    first_task = next(e.event_id for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
        namespace=client.namespace, workflow_execution=ExecutionRef(workflow_id=case.id, run_id=old.run_id),
        reason="rewind to the intake", workflow_task_finish_event_id=first_task, request_id=str(uuid.uuid4()),
        identity="ops-console"))
    where = f"WorkflowId = '{case.id}'"
    try:
        await eventually(lambda: find_stuck(client, where=where, pool=pool), lambda rows: rows == [])  # a run carries it
        result = await eventually(lambda: _sweep(client, task_queue, where), lambda r: bool(r.found))
        [found] = result.found
        assert (found.kind, found.run_id, found.reason, found.identity) == ("reset", old.run_id, "rewind to the intake", None)
        # The new run records the reset at its own seq, and goes on recording past it: the row stays.
        await case.act("note", by="Chen CS", text="after the reset")
        resets = await eventually(lambda: pool.fetch(
            "SELECT seq, detail FROM timeline_events WHERE case_id = $1 AND kind = 'reset'", case.id), lambda rows: rows)
        [event] = resets
        assert event["detail"]["reason"] == "rewind to the intake" and event["detail"]["run_id"] == old.run_id
        later = await eventually(lambda: pool.fetchval(
            "SELECT max(seq) FROM timeline_events WHERE case_id = $1 AND kind = 'action' AND name = 'note'", case.id),
            lambda seq: seq is not None)
        assert later > event["seq"] and [e.kind for e in await case.timeline() if e.seq == event["seq"]] == ["reset"]
        assert await pool.fetchval("SELECT stage FROM cases WHERE case_id = $1", case.id) == stage  # the new run's
        told = await pool.fetchrow("SELECT kind, subject FROM notifications WHERE key = $1", f"case-audit:{found.run_id}")
        assert told["kind"] == "reset" and told["subject"] == f"[{case.id}] Reset outside crisisdesk"
        assert (await _sweep(client, task_queue, where)).found == []
        assert (await client.get_workflow_handle(case.id).describe()).run_id == reset.run_id
    finally:
        await client.get_workflow_handle(case.id).terminate(reason="test over")
