"""Find the cases that are not moving, say why, and what would move them (`crisis stuck`).

Six reasons (the first three are Web UI saved views too, docs/operators.md):
- overdue: a deadline passed (`CrisisNextDeadline < now`) and nobody recorded the step that meets it;
- idle: nothing happened on the case for N hours;
- failing: an activity keeps retrying, or the workflow task itself fails (code that needs a fix);
- unreached: the case's last alert reached nobody (no seat, no team, no default, no admin): seat someone;
- unrecorded: the case runs, but its record in PostgreSQL is behind (an outage, most likely);
- terminated outside crisisdesk: Temporal ended the case (the Web UI's Terminate) while its record says it
  is open, or says `terminated` (the case audit marked it): nothing moves it until someone resumes it.
Each row's advice names the real cause where it can be told: bad data on a record, an outage, no
worker polling the case's task queue, or code that needs a fix.
"""

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecution

from activities.closed_outside import how_it_ended, terminated_runs
from crisisdesk.lifecycle import meets
from crisisdesk.logs import log
from crisisdesk.models.audit import NO_REASON, RESET, SCHEDULE_AUDIT, TERMINATED
from crisisdesk.models.case import CaseStatus
from crisisdesk.models.followups import FOLLOW_UP_WORKFLOW, FollowUpItem, FollowUps
from crisisdesk.names import SA_NEXT_DEADLINE, SA_STAGE, WORKFLOW_TYPE
from starter.client import CrisisClientError, status

MAX_CASES = 1000
CONCURRENCY = 16
QUERY_TIMEOUT = timedelta(seconds=5)  # a case whose worker is gone is still listed, from its search attributes
OUTSIDE = "terminated outside crisisdesk"
FINAL = ("closed", "cancelled")  # a case the record (or, without it, the run's stage) says ended on crisisdesk's terms


# What a failure's message says about its cause, said before where to look.
FAILURE_CAUSES = (
    (("invalid byte sequence", "unicode", "dataerror", "recordrejected", "untranslatable"),
     "bad data on the record: PostgreSQL refuses this case's text; a current worker records the refusal and "
     "stores it scrubbed (deploy it), nothing needs deleting"),
    (("connection refused", "no such file or directory", "cannot connect", "connectionerror", "timeout", "unreachable"),
     "an outage: the service it talks to does not answer, and the activity retries by itself once it is back"),
)
# Where to look when an activity keeps failing, by the words in its name.
ACTIVITY_HINTS = (
    (("notif", "send", "mail", "webhook"), "check SMTP_URL / WEBHOOK_URL and that the mail or webhook server answers"),
    (("evidence",), "check the evidence URI, CRISIS_EVIDENCE_ALLOWED_DIRS/HOSTS and CRISIS_EVIDENCE_DIR"),
    (("report",), "check CRISIS_REPORT_DIR is writable and PostgreSQL (DATABASE_URL) answers"),
    (("survey", "knowledge", "stakeholder", "record", "open", "case", "timeline"), "check PostgreSQL (DATABASE_URL) answers and is migrated"),
)


class StuckCase(BaseModel):
    case_id: str
    reason: Literal["overdue", "idle", "failing", "unrecorded", "unreached", "terminated outside crisisdesk"]
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
    """docs/contract.md's stuck-case query, also for the Web UI's saved views."""
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


def _hint(activity: str, failure: str = "") -> str:
    text, name = failure.lower(), activity.lower()
    cause = next((c for words, c in FAILURE_CAUSES if any(w in text for w in words)), None)
    where = next((hint for words, hint in ACTIVITY_HINTS if any(w in name for w in words)), None)
    if cause and where and not cause.startswith("bad data"):
        return f"{cause}; {where}"
    return cause or where or "read its last failure in the Web UI (Pending Activities); it retries by itself once the cause is fixed"


async def _overdue(client: Client, execution: WorkflowExecution, now: datetime, state: CaseStatus | None) -> StuckCase:
    stage = execution.typed_search_attributes.get(SA_STAGE)
    due = execution.typed_search_attributes.get(SA_NEXT_DEADLINE)
    late = [d for d in (state.deadlines if state else []) if d.due_at <= now]
    if not late:
        return StuckCase(case_id=execution.id, reason="overdue", stage=stage, since=due,
                         why=f"a deadline was due at {_rfc3339(due) if due else 'an earlier time'}",
                         unstick="open the case (`crisis status`) and record the step its open actions name")
    first = min(late, key=lambda d: d.due_at)
    step = " or ".join(meets(first.name) or state.open_actions) or "the next step"
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
            why=f"activity {name} failing (attempt {pending.attempt}): {failure[:200]}", unstick=_hint(name, failure),
        ))
    task = desc.raw_description.pending_workflow_task
    if desc.raw_description.HasField("pending_workflow_task") and task.attempt >= min_attempts:
        rows.append(StuckCase(
            case_id=execution.id, reason="failing", stage=stage, attempt=task.attempt,
            why=f"workflow task failing (attempt {task.attempt}): the worker cannot run this case's code",
            unstick="code that needs a fix: read the WorkflowTaskFailed event in the Web UI and deploy a fixed "
                    "worker (a bug, or a change that running cases cannot replay); the case resumes where it stopped",
        ))
    return rows


class Pollers:
    """Whether any worker polls a task queue: asked once per queue, so a case that does not answer can be
    told apart from a case nobody serves."""

    def __init__(self, client: Client) -> None:
        self.client, self.seen = client, {}

    async def any(self, task_queue: str) -> bool | None:
        if task_queue not in self.seen:
            try:
                response = await self.client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                    namespace=self.client.namespace, task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
                self.seen[task_queue] = bool(response.pollers)
            except Exception:
                self.seen[task_queue] = None  # unknown: say nothing rather than guess
        return self.seen[task_queue]


async def _no_answer(pollers: Pollers, execution: WorkflowExecution) -> tuple[str, str] | None:
    """(why, what to do) when the case did not answer its status query."""
    queue = execution.task_queue
    if await pollers.any(queue) is False:
        return (f"no worker polls its task queue {queue!r}",
                f"a worker missing: start one on task queue {queue!r} (`python worker.py` with CRISIS_TASK_QUEUE={queue})")
    return None


async def _overdue_follow_ups(client: Client, now: datetime, where: str | None, timeout: timedelta) -> list[StuckCase]:
    """A review's follow-up actions past their due date (workflows/follow_ups.py), one row per item."""
    query = (f"WorkflowType = '{FOLLOW_UP_WORKFLOW}' AND ExecutionStatus = 'Running' AND "
             f"{SA_NEXT_DEADLINE.name} < '{_rfc3339(now)}'" + (f" AND ({where})" if where else ""))
    rows = []
    for execution in await _list(client, query):
        try:
            plan = await client.get_workflow_handle(execution.id).query(
                "follow_ups", result_type=FollowUps, rpc_timeout=timeout)
            late = [i for i in plan.items if i.done_at is None and i.due_at <= now]
        except Exception:  # no worker answers: the search attributes still say it is overdue
            due = execution.typed_search_attributes.get(SA_NEXT_DEADLINE)
            late = [FollowUpItem(what="a follow-up", owner="its owner", due_at=due or now)]
        rows += [StuckCase(case_id=execution.id, reason="overdue", stage="follow_up", since=item.due_at,
                           why=f"overdue follow-up {item.what!r} (owner {item.owner}, due {_rfc3339(item.due_at)})",
                           unstick=f"do it, then record follow_up_done with what={item.what!r}") for item in late]
    return rows


async def _recorded_stages(pool: Any, case_ids: list[str]) -> dict[str, str] | None:
    """Each case's stage as PostgreSQL's record says it; None when there is no record to ask."""
    if pool is None or not case_ids:
        return None
    try:
        rows = await pool.fetch("SELECT case_id, stage FROM cases WHERE case_id = ANY($1::text[])", case_ids)
    except Exception as err:  # PostgreSQL down: the runs' own stages say it instead
        log.warning("case records unavailable; judging terminated cases by their last stage", error=type(err).__name__)
        return None
    return {r["case_id"]: r["stage"] for r in rows}


async def _terminated(client: Client, where: str | None, pool: Any) -> list[StuckCase]:
    """Cases whose last run Temporal terminated (not a Reset, whose new run carries the case) while they were
    open: the record still says open, or says `terminated` because the audit marked it."""
    latest: dict[str, WorkflowExecution] = {}
    for execution in await terminated_runs(client, where):  # oldest first: the last one per case stays
        latest[execution.id] = execution
    stages = await _recorded_stages(pool, list(latest))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def examine(execution: WorkflowExecution) -> StuckCase | None:
        stage = stages.get(execution.id) if stages is not None else execution.typed_search_attributes.get(SA_STAGE)
        if (stages is not None and stage is None) or stage in FINAL:
            return None  # never recorded (nothing to correct), or ended on the record
        async with gate:
            try:
                found = await how_it_ended(client, execution)
            except Exception:
                return None
        if found.kind == RESET:
            return None
        by = f" by {found.identity}" if found.identity else ""
        why = f"Temporal's Terminate at {_rfc3339(found.closed_at)}{by}: {found.reason or NO_REASON}"
        if stage == TERMINATED:
            why += "; the case audit recorded it and told the admins"
        else:
            why += f"; its record still says {stage or 'open'} ({SCHEDULE_AUDIT} records it and tells the admins)"
        return StuckCase(case_id=execution.id, reason=OUTSIDE, stage=stage, since=found.closed_at, why=why,
                         unstick="nothing runs it now: to go on, Reset it in the Web UI to its last workflow task (the "
                                 "case resumes where it stopped), or open a new case; only the head ends a case, with `cancel`")

    rows = await asyncio.gather(*(examine(e) for e in latest.values()))
    return [row for row in rows if row is not None]


async def find_stuck(client: Client, *, idle_hours: float = 24, min_attempts: int = 3,
                     now: datetime | None = None, where: str | None = None,
                     query_timeout: timedelta = QUERY_TIMEOUT, unrecorded_minutes: float = 10,
                     pool: Any = None) -> list[StuckCase]:
    """Every running case that is overdue, idle for `idle_hours`, failing `min_attempts` times, or whose
    record has lagged for `unrecorded_minutes`; and every case terminated outside crisisdesk while open
    (by PostgreSQL's record when `pool` is given, by the run's last stage otherwise).

    `where` narrows the search with more visibility query, e.g. `CrisisProject = 'P-7'`.
    """
    now = now or datetime.now(timezone.utc)
    running = await _list(client, running_query(where))
    overdue_ids = {e.id for e in await _list(client, overdue_query(now, where))}
    gate = asyncio.Semaphore(CONCURRENCY)
    pollers = Pollers(client)

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
            if state and state.unreached:  # nobody forgotten (issue 30): an alert that reached no one
                rows.append(StuckCase(
                    case_id=execution.id, reason="unreached", stage=str(state.stage), since=state.updated_at,
                    why=f"the last alert reached nobody for {', '.join(state.unreached)} (no seat, team, default or admin)",
                    unstick=f"seat them now: assign_role {state.unreached[0]} (the case sheet has it ready to paste); "
                            "set CRISIS_DEFAULT_TEAM or add an admin (`crisis users add ID --role admin`)",
                ))
            if state and state.unrecorded and now - state.updated_at >= timedelta(minutes=unrecorded_minutes):
                rows.append(StuckCase(
                    case_id=execution.id, reason="unrecorded", stage=str(state.stage), since=state.updated_at,
                    why=f"{state.unrecorded} events wait for PostgreSQL (deadlines and alerts run regardless)",
                    unstick="an outage: check that PostgreSQL (DATABASE_URL) answers; the record catches up by itself",
                ))
            if state is None and rows and (cause := await _no_answer(pollers, execution)):
                rows = [row.model_copy(update={"why": f"{row.why}; {cause[0]}", "unstick": cause[1]}) for row in rows]
            return rows

    found = [row for rows in await asyncio.gather(*(examine(e) for e in running)) for row in rows]
    found += await _overdue_follow_ups(client, now, where, query_timeout)
    found += await _terminated(client, where, pool)
    order = {OUTSIDE: 0, "unreached": 1, "failing": 2, "overdue": 3, "unrecorded": 4, "idle": 5}
    return sorted(found, key=lambda r: (order[r.reason], r.since or now, r.case_id))
