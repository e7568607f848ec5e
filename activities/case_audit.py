"""The case audit: notice the cases Temporal ended or rewound behind crisisdesk's back.

The Web UI's Terminate ends a case's run at once, and a workflow cannot catch it: no step runs, nothing
reaches the timeline, and the record in PostgreSQL says the case is open for ever. Reset rewinds a run by
terminating it and starting a new run from an earlier point of its history. The `crisis-case-audit`
Schedule (every CRISIS_CASE_AUDIT_EVERY, 15 minutes) runs `audit_cases`, which lists the case runs
Temporal closed as Terminated, keeps those whose record is still open, and for each, in one transaction:

- a termination: writes a `terminated` event on the case's timeline, after the last recorded one, with the
  reason and the Temporal identity the termination event carries (events the run held but had not recorded
  yet are recorded first, when a worker can still answer for it); a reset: tells the new run
  (`reset_noticed`, signed as `system`), which records the `reset` event at its own next seq (the new run
  records again from the reset point on, so a row written beside it would be overwritten);
- for a termination, marks the `cases` row `terminated`: no open stage, no next deadline, so the metrics
  and gauges stop counting it open (a reset's new run goes on, and keeps the row itself);
- keeps a `case_audit` row for the run: the sweep is idempotent, a second one does nothing.

Then the admins are told (role `admin`, once per run: the notification's key is the run's).
`activities.closed_outside` reads what Temporal says of each run; `crisis stuck` uses it too.
"""

from datetime import timedelta

import asyncpg
from temporalio import activity
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from activities.closed_outside import how_it_ended, terminated_runs
from activities.notify import Notifier
from activities.records import write_events
from crisisdesk import i18n
from crisisdesk.acting import acting, carrying_acting
from crisisdesk.logs import log
from crisisdesk.models.actions import ResetNoticed
from crisisdesk.models.audit import ENDED_STAGES, NO_REASON, RESET, TERMINATED, AuditRequest, AuditResult, ClosedOutside
from crisisdesk.models.case import TimelineEvent
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.settings import Settings

ADMIN_ROLE = "admin"
ANSWER_TIMEOUT = timedelta(seconds=5)  # a terminated run answers a query only while a worker can replay it
CATCH_UP_LIMIT = 1000

# What the admins read (one place, for the message catalogue).
# The words of these notifications: `note.terminated.*` and `note.reset.*` in crisisdesk/locale (issue 23).


def audit_event(found: ClosedOutside, seq: int, by: str) -> TimelineEvent:
    return TimelineEvent(seq=seq, at=found.closed_at, kind=found.kind, name="temporal", detail={
        "reason": found.reason or NO_REASON, "temporal_identity": found.identity, "run_id": found.run_id,
        "via": "temporal", "noticed_by": by})


class CaseAudit:
    """The `audit_cases` activity, given the pool and the notifier (the Temporal client is the worker's)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, notifier: Notifier) -> None:
        self.pool, self.settings, self.notifier = pool, settings, notifier

    @activity.defn(name="audit_cases")
    async def audit_cases(self, req: AuditRequest) -> AuditResult:
        return await self.sweep(activity.client(), req)

    async def sweep(self, client: Client, req: AuditRequest) -> AuditResult:
        runs = await terminated_runs(client, req.where)
        result = AuditResult()
        for execution in await self._unaudited_and_open(runs):
            try:
                found = await how_it_ended(client, execution)
            except Exception as err:  # this run only (deleted meanwhile, say): the next sweep asks again
                log.warning("case run not audited", case_id=execution.id, run_id=execution.run_id, error=type(err).__name__)
                continue
            held = await self._unrecorded(client, found) if found.kind == TERMINATED else []
            # A reset's new run records it at its own next seq (told again on a retry, kept once).
            told = found.kind == RESET and await self._tell_case(client, found, req.by)
            recorded = await self._record(found, held, req.by, write=not told)
            if recorded is not None:
                result.found.append(recorded)
                # The reason and identity stay on the record: free text and a login may name people.
                log.warning("case closed outside crisisdesk", case_id=found.case_id, kind=found.kind, run_id=found.run_id)
        result.notified = await self._tell_admins(None if req.where is None else {e.id for e in runs})
        return result

    async def _unaudited_and_open(self, runs: list[WorkflowExecution]) -> list[WorkflowExecution]:
        """The runs no sweep has recorded, of cases whose record exists and is not closed, cancelled or
        terminated (a case terminated before its first record has nothing to correct)."""
        if not runs:
            return []
        audited = {r["run_id"] for r in await self.pool.fetch(
            "SELECT run_id FROM case_audit WHERE run_id = ANY($1::text[])", [e.run_id for e in runs])}
        open_cases = {r["case_id"] for r in await self.pool.fetch(
            "SELECT case_id FROM cases WHERE case_id = ANY($1::text[]) AND NOT (stage = ANY($2::text[]))",
            list({e.id for e in runs}), list(ENDED_STAGES))}
        return [e for e in runs if e.run_id not in audited and e.id in open_cases]

    async def _unrecorded(self, client: Client, found: ClosedOutside) -> list[TimelineEvent]:
        """Events the terminated run held that its record lacks (it was cut off before recording them),
        when a worker can still replay it to answer; none otherwise."""
        last = await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM timeline_events WHERE case_id = $1",
                                        found.case_id)
        try:
            return await client.get_workflow_handle(found.case_id, run_id=found.run_id).query(
                "timeline", {"after_seq": last, "limit": CATCH_UP_LIMIT}, result_type=list[TimelineEvent],
                rpc_timeout=ANSWER_TIMEOUT)
        except Exception as err:  # no worker, or the query failed: the record goes on from what it has
            log.info("terminated case's unrecorded events unavailable", case_id=found.case_id, error=type(err).__name__)
            return []

    async def _tell_case(self, client: Client, found: ClosedOutside, by: str) -> bool:
        """A reset case runs on: it records the reset itself (`reset_noticed`, signed as `system`); a row
        written here would share the seqs of the new run, which records from the reset point on. False
        when no run is open to tell (the new run ended too): the audit writes the row then."""
        told = ResetNoticed(by=by, run_id=found.run_id, reset_at=found.closed_at, reason=found.reason,
                            temporal_identity=found.identity)
        try:
            with acting("system"):
                await carrying_acting(client, self.settings.stamp_signer()).get_workflow_handle(found.case_id).signal(
                    "reset_noticed", told.model_dump(mode="json", exclude_none=True))
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return False
            raise
        return True

    async def _record(self, found: ClosedOutside, held: list[TimelineEvent], by: str,
                      write: bool = True) -> ClosedOutside | None:
        """The audit row, the timeline event (unless the case was told: `write`) and, for a termination,
        the case row, in one transaction; None when another sweep recorded this run first, or the record
        ended meanwhile."""
        async with self.pool.acquire() as conn, conn.transaction():
            # The case row first: the case's own record keeping (a reset's new run) waits, so seqs cannot collide.
            stage = await conn.fetchval("SELECT stage FROM cases WHERE case_id = $1 FOR UPDATE", found.case_id)
            if stage is None or stage in ENDED_STAGES:
                return None
            claimed = await conn.fetchval(
                """INSERT INTO case_audit (run_id, case_id, kind, reason, identity, closed_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING RETURNING run_id""",
                found.run_id, found.case_id, found.kind, found.reason, found.identity, found.closed_at)
            if claimed is None:
                return None
            if not write:
                return found  # the case records it (_tell_case)
            await write_events(conn, found.case_id, held)
            seq = await conn.fetchval("SELECT coalesce(max(seq), 0) + 1 FROM timeline_events WHERE case_id = $1",
                                      found.case_id)
            await write_events(conn, found.case_id, [audit_event(found, seq, by)])
            if found.kind == TERMINATED:
                await conn.execute(
                    """UPDATE cases SET stage = $2, next_deadline = NULL, updated_at = greatest(updated_at, $3)
                       WHERE case_id = $1""", found.case_id, TERMINATED, found.closed_at)
            await conn.execute("UPDATE case_audit SET seq = $2 WHERE run_id = $1", found.run_id, seq)
        return found.model_copy(update={"seq": seq})

    async def _tell_admins(self, case_ids: set[str] | None) -> int:
        """Every audited run the admins were not told of yet (this sweep's, and any a failure left)."""
        rows = await self.pool.fetch(
            """SELECT a.run_id, a.case_id, a.kind, a.reason, a.identity, a.closed_at, c.project_id
               FROM case_audit a LEFT JOIN cases c USING (case_id)
               WHERE a.notified_at IS NULL AND ($1::text[] IS NULL OR a.case_id = ANY($1::text[]))
               ORDER BY a.noticed_at""", None if case_ids is None else sorted(case_ids))
        for row in rows:
            who = i18n.said("event.by", by=row["identity"]) if row["identity"] else ""
            facts = dict(case=row["case_id"], closed_at=row["closed_at"].isoformat(), who=who,
                         reason=row["reason"] or NO_REASON)
            await self.notifier.notify(Notification(
                key=f"case-audit:{row['run_id']}", case_id=row["case_id"], kind=row["kind"], facts=facts,
                recipients=[Recipient(role=ADMIN_ROLE)], at=row["closed_at"], project_id=row["project_id"]))
            await self.pool.execute("UPDATE case_audit SET notified_at = now() WHERE run_id = $1", row["run_id"])
        return len(rows)

