"""Find the cases that are not moving, say why, and what would move them (`crisis stuck`).

Three reasons, each a Web UI saved view too (docs/operators.md):
- overdue: a deadline passed (`CrisisNextDeadline < now`) and nobody recorded the step that meets it;
- idle: nothing happened on the case for N hours;
- failing: an activity keeps retrying, or the workflow task itself fails (a bug or a bad deploy).
"""

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution

from crisisdesk.models.case import CaseStatus
from crisisdesk.names import SA_NEXT_DEADLINE, SA_STAGE, WORKFLOW_TYPE
from starter.client import CrisisClientError, status

MAX_CASES = 1000
CONCURRENCY = 16
QUERY_TIMEOUT = timedelta(seconds=5)  # a case whose worker is gone is still listed, from its search attributes

# The step that meets each playbook deadline.
MEETS_DEADLINE = {
    "acknowledgement": "triage",
    "alert_acknowledgement": "acknowledge",
    "response": "decide_plan or solution_proposed",
    "first_contact": "customer_contacted",
    "revision": "revise_plan (then approve_revision) or plan_not_adjustable",
    "explanation": "explained",
    "progress_update": "progress_reported",
    "resolution": "resolution_confirmed",
}

# Where to look when an activity keeps failing, by the words in its name.
ACTIVITY_HINTS = (
    (("notif", "send", "mail", "webhook"), "check SMTP_URL / WEBHOOK_URL and that the mail or webhook server answers"),
    (("evidence",), "check the evidence URI, CRISIS_EVIDENCE_ALLOWED_DIRS/HOSTS and CRISIS_EVIDENCE_DIR"),
    (("report",), "check CRISIS_REPORT_DIR is writable and PostgreSQL (DATABASE_URL) answers"),
    (("survey", "knowledge", "stakeholder", "record", "open", "case", "timeline"), "check PostgreSQL (DATABASE_URL) answers and is migrated"),
)


class StuckCase(BaseModel):
    case_id: str
    reason: Literal["overdue", "idle", "failing"]
    why: str
    unstick: str
    stage: str | None = None
    since: datetime | None = None
    attempt: int | None = None


def _rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def running_query(extra: str | None = None) -> str:
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    return f"{query} AND ({extra})" if extra else query


def overdue_query(now: datetime, extra: str | None = None) -> str:
    """CONTRACT.md's stuck-case query, also for the Web UI's saved views."""
    return running_query(f"{SA_NEXT_DEADLINE.name} < '{_rfc3339(now)}'" + (f" AND ({extra})" if extra else ""))


async def _list(client: Client, query: str) -> list[WorkflowExecution]:
    found = []
    async for execution in client.list_workflows(query, limit=MAX_CASES):
        found.append(execution)
    return found


async def _status(client: Client, case_id: str, timeout: timedelta) -> CaseStatus | None:
    try:
        return await status(client, case_id, timeout=timeout)
    except CrisisClientError:
        return None


def _hint(activity: str) -> str:
    name = activity.lower()
    for words, hint in ACTIVITY_HINTS:
        if any(w in name for w in words):
            return hint
    return "read its last failure in the Web UI (Pending Activities); it retries by itself once the cause is fixed"


async def _overdue(client: Client, execution: WorkflowExecution, now: datetime, state: CaseStatus | None) -> StuckCase:
    stage = execution.typed_search_attributes.get(SA_STAGE)
    due = execution.typed_search_attributes.get(SA_NEXT_DEADLINE)
    late = [d for d in (state.deadlines if state else []) if d.due_at <= now]
    if not late:
        return StuckCase(case_id=execution.id, reason="overdue", stage=stage, since=due,
                         why=f"a deadline was due at {_rfc3339(due) if due else 'an earlier time'}",
                         unstick="open the case (`crisis status`) and record the step its open actions name")
    first = min(late, key=lambda d: d.due_at)
    step = MEETS_DEADLINE.get(first.name) or " or ".join(state.open_actions) or "the next step"
    return StuckCase(case_id=execution.id, reason="overdue", stage=str(state.stage), since=first.due_at,
                     why=f"overdue {first.name} (due {_rfc3339(first.due_at)})", unstick=f"record {step}")


async def _failing(client: Client, execution: WorkflowExecution, min_attempts: int) -> list[StuckCase]:
    try:
        desc = await client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
    except Exception:
        return []
    stage = execution.typed_search_attributes.get(SA_STAGE)
    rows = []
    for pending in desc.raw_description.pending_activities:
        if pending.attempt < min_attempts:
            continue
        name = pending.activity_type.name
        failure = pending.last_failure.message if pending.HasField("last_failure") else "no failure recorded yet"
        rows.append(StuckCase(
            case_id=execution.id, reason="failing", stage=stage, attempt=pending.attempt,
            since=pending.last_started_time.ToDatetime(timezone.utc) if pending.HasField("last_started_time") else None,
            why=f"activity {name} failing (attempt {pending.attempt}): {failure[:200]}", unstick=_hint(name),
        ))
    task = desc.raw_description.pending_workflow_task
    if desc.raw_description.HasField("pending_workflow_task") and task.attempt >= min_attempts:
        rows.append(StuckCase(
            case_id=execution.id, reason="failing", stage=stage, attempt=task.attempt,
            why=f"workflow task failing (attempt {task.attempt}): the worker cannot run this case's code",
            unstick="read the WorkflowTaskFailed event in the Web UI; deploy a fixed worker (a replay or code bug)",
        ))
    return rows


async def find_stuck(client: Client, *, idle_hours: float = 24, min_attempts: int = 3,
                     now: datetime | None = None, where: str | None = None,
                     query_timeout: timedelta = QUERY_TIMEOUT) -> list[StuckCase]:
    """Every running case that is overdue, idle for `idle_hours`, or failing `min_attempts` times.

    `where` narrows the search with more visibility query, e.g. `CrisisProject = 'P-7'`.
    """
    now = now or datetime.now(timezone.utc)
    running = await _list(client, running_query(where))
    overdue_ids = {e.id for e in await _list(client, overdue_query(now, where))}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def examine(execution: WorkflowExecution) -> list[StuckCase]:
        async with gate:
            rows = await _failing(client, execution, min_attempts)
            state = await _status(client, execution.id, query_timeout)
            if execution.id in overdue_ids:
                rows.append(await _overdue(client, execution, now, state))
            last = state.updated_at if state else execution.start_time
            if last and now - last >= timedelta(hours=idle_hours) and not (state and state.stage.is_final):
                stage = str(state.stage) if state else execution.typed_search_attributes.get(SA_STAGE)
                step = " or ".join(state.open_actions) if state and state.open_actions else "the next step"
                rows.append(StuckCase(
                    case_id=execution.id, reason="idle", stage=stage, since=last,
                    why=f"no change for {(now - last) / timedelta(hours=1):.0f} h (in {stage or 'unknown stage'})",
                    unstick=f"record {step}, or `note` why it waits",
                ))
            return rows

    found = [row for rows in await asyncio.gather(*(examine(e) for e in running)) for row in rows]
    order = {"failing": 0, "overdue": 1, "idle": 2}
    return sorted(found, key=lambda r: (order[r.reason], r.since or now, r.case_id))
