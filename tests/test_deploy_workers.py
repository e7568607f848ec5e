"""Several workers against one server, as a scaled deployment runs them (issue 15): three
`python worker.py` processes share one task queue on a Temporal dev server of their own; cases are
opened and taken to closure while one worker is killed with SIGKILL mid-way. Every case must
close, every worker must have served cases, and no effect may be lost or doubled: one knowledge
article and one survey response per case, a contiguous timeline in PostgreSQL equal to the case's
own count, and every e-mail notification received (a receiver that drops copies by Message-ID, as
the notifier's contract asks, keeps exactly one of each).

CRISIS_DEPLOY_CASES sets the number of cases (default 60, about 25 s on 2 cores; the deploy issue's figure was
300, about 100 s).
"""

import asyncio
import hashlib
import os
import uuid

import asyncpg

from crisisdesk.models.case import Stage
from crisisdesk.models.intake import Intake
from crisisdesk.settings import Settings
from starter.client import act, start_case, status
from tests.helpers import ORDINARY_CLOSURE, eventually
from tests.helpers.servers import DevServer, SmtpServer, worker_process

CASES = int(os.environ.get("CRISIS_DEPLOY_CASES", 60))
CONCURRENCY = 8
# The closure's actors, as the case knows them (with an address, so their notices go out by e-mail).
ACTORS = {"Chen CS": "Chen CS <cs@share.test>", "Zhang Head": "Zhang Head <head@share.test>"}
CLOSURE = [(action, {**payload, "by": ACTORS.get(payload["by"], payload["by"])}) for action, payload in ORDINARY_CLOSURE]
ROLES = {"head": ACTORS["Zhang Head"], "regional_cs": "Li Regional <regional@share.test>", "cs_owner": ACTORS["Chen CS"]}


async def _started(tmp_path) -> int:
    return sum('"worker started"' in log.read_text() for log in tmp_path.glob("worker-*.log") if log.exists())


class Driver:
    """Takes cases to closure, CONCURRENCY at a time (as operators would); `progress` is set once a
    fraction of all actions was accepted."""

    def __init__(self, client, case_ids: list[str], at: float = 0.4) -> None:
        self.client, self.case_ids, self.done = client, case_ids, 0
        self.limit, self.progress = asyncio.Semaphore(CONCURRENCY), asyncio.Event()
        self.threshold = at * len(case_ids) * len(CLOSURE)

    async def close(self, case_id: str) -> None:
        async with self.limit:
            for action, payload in CLOSURE:
                result = await act(self.client, case_id, action, payload)
                assert result.accepted, (case_id, action, result)
                self.done += 1
                if self.done >= self.threshold:
                    self.progress.set()

    async def run(self) -> None:
        await asyncio.gather(*(self.close(c) for c in self.case_ids))


async def test_three_workers_share_the_cases_and_one_killed_mid_case_is_taken_over(tmp_path, dsn):
    temporal, smtp = DevServer(tmp_path), SmtpServer()
    queue = f"share-{uuid.uuid4().hex[:6]}"
    env = {"TEMPORAL_ADDRESS": temporal.address, "DATABASE_URL": dsn, "CRISIS_TASK_QUEUE": queue,
           "SMTP_URL": smtp.url, "CRISIS_EVIDENCE_DIR": str(tmp_path / "files" / "evidence"),
           "CRISIS_REPORT_DIR": str(tmp_path / "files" / "reports")}
    workers = [worker_process(tmp_path / f"worker-{i}.log", **env) for i in range(3)]
    smtp.start()
    temporal.start()
    try:
        client = await temporal.client()
        for worker in workers:
            worker.start()
        # All three poll before the first case: otherwise the first up takes every case and its cache keeps them.
        await eventually(lambda: _started(tmp_path), lambda n: n == 3, timeout=90)
        settings = Settings(temporal_address=temporal.address, database_url=dsn, CRISIS_TASK_QUEUE=queue)
        prefix = f"share-{uuid.uuid4().hex[:6]}"
        opened = await asyncio.gather(*(start_case(client, Intake.model_validate({
            "intake_id": f"{prefix}-{i}", "channel": "phone", "summary": "Lift stuck between floors",
            "project": {"id": "P-9", "name": "Harbour", "region": "south"}, "roles": ROLES}), settings)
            for i in range(CASES)))
        case_ids = [case.case_id for case in opened]

        driver = Driver(client, case_ids)
        running = asyncio.create_task(driver.run())
        await asyncio.wait({running, asyncio.create_task(driver.progress.wait())}, return_when=asyncio.FIRST_COMPLETED)
        served_before_kill = [(tmp_path / f"worker-{i}.log").read_text().count(prefix) for i in range(3)]
        workers[0].kill()  # mid-case: its cached cases and running tasks move to the other two
        await asyncio.wait_for(running, timeout=600)

        statuses = await asyncio.gather(*(status(client, c) for c in case_ids))
        assert {s.stage for s in statuses} == {Stage.closed}
        assert all(n > 0 for n in served_before_kill), served_before_kill  # the load was shared

        conn = await asyncpg.connect(dsn)
        try:
            async def records():
                return await conn.fetch(
                    """SELECT c.case_id, (SELECT count(*) FROM knowledge_articles k WHERE k.case_id = c.case_id) AS articles,
                              (SELECT count(*) FROM survey_responses r WHERE r.case_id = c.case_id) AS surveys,
                              (SELECT count(*) FROM timeline_events t WHERE t.case_id = c.case_id) AS events,
                              (SELECT max(seq) FROM timeline_events t WHERE t.case_id = c.case_id) AS last_seq
                       FROM cases c WHERE c.case_id = ANY($1::text[])""", case_ids)

            for _ in range(300):  # the timeline is written in the background: wait until it caught up
                rows = await records()
                if len(rows) == CASES and all(r["articles"] == 1 and r["events"] == r["last_seq"] for r in rows):
                    break
                await asyncio.sleep(0.1)
            assert len(rows) == CASES
            assert all(r["articles"] == 1 and r["surveys"] == 1 for r in rows), [dict(r) for r in rows if r["articles"] != 1]
            assert all(r["events"] == r["last_seq"] for r in rows), "a timeline has a gap or a duplicate"
            keys = [r["key"] for r in await conn.fetch(
                """SELECT n.key FROM notifications n JOIN notification_deliveries d ON d.key = n.key
                   WHERE n.case_id = ANY($1::text[]) AND d.channel = 'smtp' AND d.status = 'sent'""", case_ids)]
        finally:
            await conn.close()
        message_ids = {f"<{hashlib.sha256(k.encode()).hexdigest()[:32]}@crisisdesk>" for k in keys}
        assert keys and message_ids <= set(smtp.inbox.received), "a notification recorded as sent never arrived"
        print(f"\n{CASES} cases on 3 workers, one killed: {len(keys)} e-mails, "
              f"{smtp.inbox.duplicates} redelivered copies dropped by Message-ID; served before the kill {served_before_kill}")
    finally:
        for worker in workers:
            worker.stop()
        temporal.stop()
        smtp.stop()
