"""Cost per case on one stack (issue 14): a real dev server (no time skipping), embedded PostgreSQL and
one in-process worker, each figure beside a baseline measured in the same run.

- case_vs_bare: history events and wall time of a crisis case taken to an accepted plan, against a
  workflow with the same updates, timer and notifications and no logic (benchmarks/bare.py);
- intake_vs_raw: `POST /intakes` through the API against raw `start_workflow` of the same intake;
- deadline_lateness: cases whose alert deadline falls due within the minute, lateness from the due
  time to the breach on the record;
- open_cases_rss: the worker process's resident memory with N open cases, scaled to 10,000.
"""

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.bare import BareCase, bare_notify
from crisisdesk.converter import data_converter
from crisisdesk.models.case import ActionResult
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.playbooks import Playbook, load_playbook, record_check
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.stack import start_dev_server, start_postgres

Progress = Callable[[str, int, int], None]
ALERT_DUE_S = 20
ROLES = {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS", "department:engineering": "Zhao Eng"}
# What the bench case waits for at each of CRISIS_STEPS' stages (its timers in the bench playbook): the
# alert's acknowledgement, then the next daily report, the first contact, the next daily report.
BARE_WAITS_S = [ALERT_DUE_S, 86_400, 43_200, 86_400]
CRISIS_STEPS = [("acknowledge", {"by": "Wang Head"}),
                ("decide_plan", {"by": "Wang Head", "summary": "Repair", "department": "engineering"}),
                ("customer_contacted", {"by": "Chen CS"}),
                ("customer_answer", {"by": "Chen CS", "satisfied": True})]


def bench_playbook(directory: Path) -> None:
    """The delivery playbook whose alert acknowledgement falls due in seconds."""
    book = load_playbook("delivery").model_dump(mode="json")
    book["deadlines"]["alert_acknowledgement"]["due"] = f"PT{ALERT_DUE_S}S"
    book["name"] = "bench"
    path = directory / "bench.json"
    path.write_text(json.dumps(book))
    record_check(path, Playbook.model_validate(book), drills=[], checked_at="benchmarks")


def intake(n: int | str, **fields) -> Intake:
    return Intake.model_validate({"intake_id": f"bench-{n}-{uuid.uuid4().hex[:6]}", "channel": "phone",
                                  "summary": "Water leaking through the ceiling", "roles": ROLES,
                                  "project": {"id": "P-B", "region": "east"}, **fields})


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


STICKY_CACHE = 1000  # the SDK's default max_cached_workflows, which worker.py keeps


def rss_per_10k(before: float, after: float, n: int) -> dict:
    """What 10,000 open cases add to the worker: only cached cases take memory, and the sticky cache
    holds at most STICKY_CACHE of them (an evicted case costs nothing until its next task)."""
    per_cached = (after - before) / min(n, STICKY_CACHE)
    return {"value": round(per_cached * min(10_000, STICKY_CACHE), 1), "baseline_mib": round(before, 1),
            "with_cases_mib": round(after, 1), "cases": n, "per_cached_case_kib": round(per_cached * 1024, 1),
            "sticky_cache": STICKY_CACHE, "unit": "MiB"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def history_counts(client: Client, workflow_id: str) -> Counter:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)


class CostBench:
    def __init__(self, root: Path, progress: Progress) -> None:
        self.root, self.progress = root, progress

    async def __aenter__(self) -> "CostBench":
        from activities.db import create_pool, migrate

        (self.root / "playbooks").mkdir(parents=True, exist_ok=True)
        bench_playbook(self.root / "playbooks")
        self.pg = start_postgres(self.root / "pg")
        self.dsn = self.pg.get_uri()
        await migrate(self.dsn)
        self.env = await start_dev_server()
        self.settings = Settings(database_url=self.dsn, CRISIS_TASK_QUEUE="bench", CRISIS_PLAYBOOK="bench",
                                 CRISIS_PLAYBOOK_DIR=self.root / "playbooks", CRISIS_REPORT_DIR=self.root / "reports",
                                 CRISIS_EVIDENCE_DIR=self.root / "evidence")
        self.pool = await create_pool(self.dsn, max_size=self.settings.db_pool_size)  # CRISIS_DB_POOL_SIZE, …
        return self

    async def __aexit__(self, *exc) -> None:
        await self.env.shutdown()
        await self.pool.close()
        self.pg.cleanup()

    def worker(self) -> Worker:
        from worker import build_worker

        return build_worker(self.env.client, self.settings, self.pool)

    # -- one case against the bare workflow ------------------------------------------------------
    async def case_vs_bare(self) -> dict:
        client = self.env.client
        async with Worker(client, task_queue="bench-bare", workflows=[BareCase], activities=[bare_notify]):
            start = time.perf_counter()
            bare = await client.start_workflow(BareCase.run, BARE_WAITS_S, id=f"bare-{uuid.uuid4().hex[:8]}",
                                               task_queue="bench-bare")
            for name, _ in CRISIS_STEPS:
                await bare.execute_update(BareCase.act, name)
            bare_wall = time.perf_counter() - start
            await asyncio.sleep(2)  # its effects finish beside it, as the case's do
        bare_events = await history_counts(client, bare.id)
        await bare.terminate("benchmark done")
        async with self.worker():
            start = time.perf_counter()
            case = intake("cost", potential_crisis=True)
            handle = await client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id),
                                                 task_queue="bench")
            for name, fields in CRISIS_STEPS:
                await handle.execute_update(name, fields, result_type=ActionResult)
            case_wall = time.perf_counter() - start
            await asyncio.sleep(2)  # its effects (notifications, records) finish beside the case
        case_events = await history_counts(client, handle.id)
        self.progress("case vs bare", 1, 1)
        return {
            "case_vs_bare_events": {"value": sum(case_events.values()), "baseline": sum(bare_events.values()),
                                    "ratio": round(sum(case_events.values()) / sum(bare_events.values()), 2),
                                    "unit": "events", "case_by_type": dict(case_events.most_common()),
                                    "bare_by_type": dict(bare_events.most_common())},
            "case_vs_bare_wall": {"value": round(case_wall, 3), "baseline": round(bare_wall, 3),
                                  "ratio": round(case_wall / bare_wall, 2), "unit": "s"},
        }

    # -- intake through the API against raw start_workflow ----------------------------------------
    async def intake_vs_raw(self, n: int, concurrency: int = 16) -> dict:
        client = self.env.client
        gate = asyncio.Semaphore(concurrency)

        async def timed(call) -> float:
            async with gate:
                start = time.perf_counter()
                await call()
                return time.perf_counter() - start

        async def raw(i: int):
            case = intake(f"raw{i}")
            await client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue="idle")

        app = create_app(self.settings, client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
            async def api(i: int):
                answer = await http.post("/intakes", json=intake(f"api{i}").model_dump(mode="json", exclude_none=True))
                assert answer.status_code in (200, 201), answer.text

            start = time.perf_counter()
            raw_times = await asyncio.gather(*(timed(lambda i=i: raw(i)) for i in range(n)))
            raw_wall = time.perf_counter() - start
            start = time.perf_counter()
            api_times = await asyncio.gather(*(timed(lambda i=i: api(i)) for i in range(n)))
            api_wall = time.perf_counter() - start
        self.progress("intake vs raw", n, n)
        return {"intake_vs_raw": {
            "value": round(n / api_wall, 1), "baseline": round(n / raw_wall, 1), "ratio": round(raw_wall / api_wall, 2),
            "unit": "cases/s", "p50_ms": round(percentile(api_times, 0.5) * 1e3, 1),
            "p99_ms": round(percentile(api_times, 0.99) * 1e3, 1),
            "raw_p50_ms": round(percentile(raw_times, 0.5) * 1e3, 1), "raw_p99_ms": round(percentile(raw_times, 0.99) * 1e3, 1),
            "cases": n, "concurrency": concurrency}}

    # -- deadlines on time, and memory, with many open cases --------------------------------------
    async def deadlines_and_memory(self, n: int) -> dict:
        client = self.env.client
        async with self.worker():
            for i in range(5):  # warm: the worker's code, caches and first workflows are loaded before measuring
                case = intake(f"warm{i}")
                await client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue="bench")
            await asyncio.sleep(3)
            before = rss_mib()
            ids = []
            for i in range(n):
                case = intake(f"due{i}", potential_crisis=True)
                await client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue="bench")
                ids.append(case_id_for(case.intake_id))
                if (i + 1) % max(1, n // 10) == 0:
                    self.progress("open cases", i + 1, n)
            late: list[float] = []
            deadline, seen = time.monotonic() + ALERT_DUE_S + 120, -1
            while time.monotonic() < deadline:
                rows = await self.pool.fetch(
                    """SELECT at, detail->>'due_at' AS due FROM timeline_events
                       WHERE kind = 'breach' AND name = 'alert_acknowledgement' AND case_id = ANY($1)""", ids)
                if len(rows) != seen:
                    seen = len(rows)
                    self.progress("breaches on record", seen, n)
                if len(rows) >= n:
                    late = [(r["at"] - datetime.fromisoformat(r["due"])).total_seconds() for r in rows]
                    break
                await asyncio.sleep(2)
            after = rss_mib()
        return {
            "deadline_lateness_p99_s": {"value": round(percentile(late, 0.99), 3), "p50_s": round(percentile(late, 0.5), 3),
                                        "max_s": round(max(late), 3) if late else None, "breached": len(late),
                                        "cases": n, "unit": "s"},
            "open_cases_rss_mib_per_10k": rss_per_10k(before, after, n),
        }


async def run(root: Path, progress: Progress, intakes: int, open_cases: int) -> dict:
    async with CostBench(root, progress) as bench:
        results = await bench.case_vs_bare()
        results |= await bench.intake_vs_raw(intakes)
        results |= await bench.deadlines_and_memory(open_cases)
    return results


def drill_seconds(progress: Progress, root: Path) -> dict:
    """`crisis drill` of the shipped 30-day scenario (alert to review in simulated time), wall seconds,
    against `crisis drill` of the same intake with one step: what bringing the private stack up and
    down costs, the floor no scenario can go below."""
    import subprocess
    import sys

    scenario = Path(__file__).resolve().parents[1] / "drills" / "delivery_30_day_crisis.json"
    floor = root / "one_step.json"
    month = json.loads(scenario.read_text())
    floor.write_text(json.dumps({**month, "title": "stack only", "steps": month["steps"][:1]}))

    def timed(path: Path) -> float:
        start = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).with_name("crisis")), "drill", str(path), "--json"],
                              capture_output=True, text=True, env={**os.environ, "CRISIS_DEBUG": ""})
        if done.returncode != 0:
            raise RuntimeError(f"crisis drill {path.name} failed: {done.stderr.strip()[-300:]}")
        return time.perf_counter() - start

    baseline = timed(floor)
    progress("drill", 1, 2)
    wall = timed(scenario)
    progress("drill", 2, 2)
    return {"drill_30day_s": {"value": round(wall, 2), "baseline": round(baseline, 2), "ratio": round(wall / baseline, 2),
                              "unit": "s", "scenario": scenario.name, "steps": len(month["steps"])}}


async def replay_seconds(progress: Progress) -> dict:
    """Replaying every run of the newest recorded 60-day case (tests/histories/long_haul_60d_run*) on the
    current code, against replaying the shortest recorded history the same number of times."""
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from worker import workflow_runner
    from workflows.case import CrisisWorkflow

    directory = Path(__file__).resolve().parents[1] / "tests" / "histories"
    newest = max(p.stem.rsplit("_", 1)[1] for p in directory.glob("long_haul_60d_run*.json"))  # the current code's
    runs = [WorkflowHistory.from_json(p.stem, p.read_text())
            for p in sorted(directory.glob(f"long_haul_60d_run*_{newest}.json"))]
    replayer = Replayer(workflows=[CrisisWorkflow], data_converter=data_converter(), workflow_runner=workflow_runner())
    start = time.perf_counter()
    for i, history in enumerate(runs, start=1):
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            raise RuntimeError(f"replay of {history.workflow_id} failed: {result.replay_failure}")
        progress("replay", i, len(runs))
    wall = time.perf_counter() - start
    return {"replay_60day_s": {"value": round(wall, 3), "unit": "s", "runs": len(runs),
                               "events": sum(len(h.events) for h in runs)}}
