"""Cost per case on the stack users run (issues 14 and 28): `crisis dev`'s own DevStack (starter/dev.py),
so a file-backed Temporal dev server started with `crisis dev`'s flags and pragmas, the intake API as a
uvicorn process, embedded PostgreSQL and one worker process; the bare workflows' worker runs in this
process against the same server. Each figure beside a baseline measured in the same run.

- case_vs_bare: history events and wall time of a crisis case taken to an accepted plan, against a
  workflow with the same updates, timer and notifications and no logic (benchmarks/bare.py);
- intake_vs_raw: `POST /intakes` over HTTP to the API process against raw `start_workflow` of the same
  intake from here, both onto the worker's queue (the cases they open are waited for before the next phase);
- deadline_lateness: cases whose alert deadline falls due within the minute, lateness from the due
  time to the breach on the record, against bare workflows with the same timer (spread: 1,000 over
  50 s, opening while earlier ones fall due);
- deadline_burst: 600 cases opened first, whose alert deadlines then fall due within 3 s; lateness as
  above, the history a breach adds to a case against a bare workflow's, the server's persistence calls;
- open_at_rate: cases started at 80/s until all are open in PostgreSQL, against bare workflows until
  all have recorded their first effect; the worker's resident memory with them open.
"""

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.bare import TABLE, BareCase, BareNotifier
from benchmarks.phases import Phases
from crisisdesk.converter import data_converter
from crisisdesk.models.case import ActionResult
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.playbooks import Playbook, load_playbook, record_check
from crisisdesk.settings import Settings
from starter.client import connect
from starter.dev import ChildDied, DevStack
from starter.stack import free_port

Progress = Callable[[str, int, int], None]
SERVER = "file-backed dev server, as `crisis dev` starts it"  # where every figure of this module is measured
ALERT_DUE_S = 20
OPEN_RATE = 80.0  # cases started per second in open_at_rate
ROLES = {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS", "department:engineering": "Zhao Eng"}
# What the bench case waits for at each of CRISIS_STEPS' stages (its timers in the bench playbook): the
# alert's acknowledgement, then the next daily report, the first contact, the next daily report.
BARE_WAITS_S = [ALERT_DUE_S, 86_400, 43_200, 86_400]
CRISIS_STEPS = [("acknowledge", {"by": "Wang Head"}),
                ("decide_plan", {"by": "Wang Head", "summary": "Repair", "department": "engineering"}),
                ("customer_contacted", {"by": "Chen CS"}),
                ("customer_answer", {"by": "Chen CS", "satisfied": True})]


def bench_playbook(directory: Path, name: str = "bench", due_s: int = ALERT_DUE_S) -> None:
    """The delivery playbook whose alert acknowledgement falls due in seconds."""
    book = load_playbook("delivery").model_dump(mode="json")
    book["deadlines"]["alert_acknowledgement"]["due"] = f"PT{due_s}S"
    book["name"] = name
    path = directory / f"{name}.json"
    path.write_text(json.dumps(book))
    record_check(path, Playbook.model_validate(book), drills=[], checked_at="benchmarks")


def spread_due_s(window_s: float) -> int:
    """How long after its start a spread case's alert falls due: ALERT_DUE_S, within which later cases
    of a 50 s window are still opening as the first fall due; a short window (`--quick`) waits less."""
    return min(ALERT_DUE_S, max(8, round(window_s)))


def burst_due_s(n: int) -> int:
    """How long after its start a burst case's alert falls due: time for the one worker to open all `n`
    first (about 15 a second here), so the burst measures deadlines, not opening."""
    return max(8, round(n / 8))


def intake(n: int | str, **fields) -> Intake:
    return Intake.model_validate({"intake_id": f"bench-{n}-{uuid.uuid4().hex[:6]}", "channel": "phone",
                                  "summary": "Water leaking through the ceiling", "roles": ROLES,
                                  "project": {"id": "P-B", "region": "east"}, **fields})


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


STICKY_CACHE = 1000  # the SDK's default max_cached_workflows, which worker.py keeps


def rss_per_10k(before: float, after: float, n: int) -> dict:
    """What 10,000 open cases add to the worker: only cached cases take memory, and the sticky cache
    holds at most STICKY_CACHE of them (an evicted case costs nothing until its next task)."""
    per_cached = (after - before) / min(n, STICKY_CACHE)
    value = per_cached * min(10_000, STICKY_CACHE)
    return {"value": round(value, 1), "baseline": round(before, 1), "ratio": round((before + value) / before, 2),
            "with_cases_mib": round(after, 1), "cases": n, "per_cached_case_kib": round(per_cached * 1024, 1),
            "sticky_cache": STICKY_CACHE, "unit": "MiB"}


def median(runs: list[tuple]) -> tuple:
    """The run with the median first element (the lower middle of an even count)."""
    return sorted(runs, key=lambda r: r[0])[(len(runs) - 1) // 2]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def history_counts(client: Client, workflow_id: str) -> Counter:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)


class CostBench:
    def __init__(self, root: Path, progress: Progress, profile: Path | None = None) -> None:
        self.root, self.progress, self.profile = root, progress, profile
        self.profiles: dict[str, dict] = {}  # phase label -> the worker's py-spy summary

    async def __aenter__(self) -> "CostBench":
        self.exits = contextlib.AsyncExitStack()
        await self.exits.__aenter__()
        try:
            await self._start()
        except BaseException:
            await self.exits.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        from activities.db import create_pool

        playbooks = self.root / "playbooks"
        playbooks.mkdir(parents=True, exist_ok=True)
        bench_playbook(playbooks)
        env = {"CRISIS_PLAYBOOK": "bench", "CRISIS_PLAYBOOK_DIR": str(playbooks), "TEMPORAL_NAMESPACE": "default",
               "CRISIS_TASK_QUEUE": "bench"}
        for attempt in range(3):  # free ports are free when chosen; another process may take one before the server binds it
            temporal, ui, api, self.metrics_port = distinct_ports(4)
            self.stack = DevStack(self.root / f"stack{attempt}", temporal, ui, api, "127.0.0.1", env=env,
                                  server_args=["--metrics-port", str(self.metrics_port)], child_logs=True)
            try:
                await self.exits.enter_async_context(self.stack.serving())
                break
            except ChildDied as died:
                if attempt == 2 or "address already in use" not in died.child.log_tail(5):
                    raise
        # The stack seals payloads with its data directory's key and signs who acts with its own stamp key
        # (starter/dev.py): the bench's client reads and writes what the stack's worker does.
        self.settings = Settings(temporal_address=self.stack.temporal_address, database_url=self.stack.dsn,
                                 CRISIS_TASK_QUEUE=self.stack.task_queue, CRISIS_PLAYBOOK="bench",
                                 CRISIS_PLAYBOOK_DIR=playbooks, CRISIS_ENCRYPTION_KEY=self.stack.key,
                                 CRISIS_STAMP_KEY=self.stack.stamp_key)
        self.client = await connect(self.settings)
        self.pool = await create_pool(self.stack.dsn, max_size=self.settings.db_pool_size)
        self.exits.push_async_callback(self.pool.close)
        await self.pool.execute(TABLE)

    async def __aexit__(self, *exc) -> None:
        await self.exits.__aexit__(*exc)

    def diagnose(self) -> str:
        """The stack's parts that are no longer running, with their exit codes and last log lines."""
        dead = []
        for child in self.stack.children:
            if (code := child.exit_code()) is not None:
                tail = " | ".join(line.strip() for line in child.log_tail(3).splitlines())
                dead.append(f"{child.name} exited with code {code}" + (f" (its log ends: {tail})" if tail else ""))
        return "; ".join(dead)

    def keep_logs(self, where: Path) -> None:
        """The stack's logs (server, worker, API, PostgreSQL) copied out of the throw-away directory."""
        where.mkdir(parents=True, exist_ok=True)
        for log_file in [*self.stack.data_dir.glob("*.log"), self.stack.data_dir / "pg" / "log"]:
            with contextlib.suppress(OSError):
                shutil.copy(log_file, where / f"{log_file.parent.name}-{log_file.name}")
        print(f"  the stack's logs are in {where}", file=sys.stderr)

    @contextlib.contextmanager
    def sampled(self, name: str):
        """The worker process under py-spy while the block runs, with --profile DIR; else nothing."""
        if self.profile is None:
            yield None
            return
        from benchmarks.profile import Sampler

        with Sampler(self.stack.worker.pid, self.profile / f"{name}.txt") as sampler:
            yield sampler

    def processes(self) -> dict[str, int]:
        """The stack's processes by what they are (each with whatever it started)."""
        found = {"bench (bare worker)": os.getpid(), "worker": self.stack.worker.pid, "server": self.stack.temporal.pid,
                 "api": self.stack.api.pid}
        with contextlib.suppress(OSError, ValueError, IndexError):
            found["postgres"] = int((Path(self.stack.postgres.pgdata) / "postmaster.pid").read_text().split()[0])
        return found

    # -- one case against the bare workflow ------------------------------------------------------
    async def case_vs_bare(self, pairs: int = 3) -> dict:
        """Cases through CRISIS_STEPS beside bare workflows through the same updates, each paced as people
        act (the first action a second after the alert, the next ones half a second apart, so each lands
        in a workflow task of its own rather than where a fast script happens to put it). `pairs` of each,
        the median reported: whether two effects that finish together share a workflow task is the
        server's timing, and moves either count by a few events from one run to the next. Wall time is
        the sum of the start and update round trips."""
        bare, case = [], []
        async with self.bare_worker():
            for _ in range(pairs):
                bare_id = f"bare-{uuid.uuid4().hex[:8]}"
                wall = await self.paced_steps(
                    lambda: self.client.start_workflow(BareCase.run, BARE_WAITS_S, id=bare_id, task_queue="bench-bare"),
                    lambda handle, name, _: handle.execute_update(BareCase.act, name))
                bare.append((sum((events := await history_counts(self.client, bare_id)).values()), wall, events))
                await self.client.get_workflow_handle(bare_id).terminate("benchmark done")
                self.progress("case vs bare", len(bare), 2 * pairs)
        for _ in range(pairs):
            opened = intake("cost", potential_crisis=True)
            wall = await self.paced_steps(
                lambda: self.client.start_workflow("CrisisWorkflow", opened, id=case_id_for(opened.intake_id),
                                                   task_queue=self.stack.task_queue),
                lambda handle, name, fields: handle.execute_update(name, fields, result_type=ActionResult))
            case.append((sum((events := await history_counts(self.client, case_id_for(opened.intake_id))).values()), wall, events))
            self.progress("case vs bare", pairs + len(case), 2 * pairs)
        (case_events, _, case_types), (bare_events, _, bare_types) = median(case), median(bare)
        case_wall, bare_wall = statistics.median(c[1] for c in case), statistics.median(b[1] for b in bare)
        return {
            "case_vs_bare_events": {"server": SERVER, "value": case_events, "baseline": bare_events, "ratio": round(case_events / bare_events, 2),
                                    "unit": "events", "pairs": pairs, "case_runs": sorted(c[0] for c in case),
                                    "bare_runs": sorted(b[0] for b in bare), "case_by_type": dict(case_types.most_common()),
                                    "bare_by_type": dict(bare_types.most_common())},
            "case_vs_bare_wall": {"server": SERVER, "value": round(case_wall, 3), "baseline": round(bare_wall, 3),
                                  "ratio": round(case_wall / bare_wall, 2), "unit": "s"},
        }

    @staticmethod
    async def paced_steps(start, act) -> float:
        began = time.perf_counter()
        handle = await start()
        wall = time.perf_counter() - began
        await asyncio.sleep(1.0)
        for name, fields in CRISIS_STEPS:
            began = time.perf_counter()
            await act(handle, name, fields)
            wall += time.perf_counter() - began
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # the last effects finish
        return wall

    # -- intake through the API against raw start_workflow ----------------------------------------
    async def intake_vs_raw(self, n: int, concurrency: int = 16, rounds: int = 4) -> dict:
        """`n` intakes over HTTP to the API process against `n` raw starts from here, 16 at a time: both
        paths warmed first (the first requests pay for imports and schema building, not intake), then in
        alternating rounds so neither gets the quieter server (its store grows with every case). Both
        start cases on the worker's queue, as users do; the phase ends when every case is open."""
        client = self.client
        gate = asyncio.Semaphore(concurrency)
        started: list[str] = []

        async def timed(call) -> float:
            async with gate:
                start = time.perf_counter()
                await call()
                return time.perf_counter() - start

        async def raw(i: int):
            case = intake(f"raw{i}")
            await client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue=self.stack.task_queue)
            started.append(case_id_for(case.intake_id))

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=self.stack.api_url, limits=limits, timeout=60) as http:
            async def api(i: int):
                answer = await http.post("/intakes", json=intake(f"api{i}").model_dump(mode="json", exclude_none=True))
                assert answer.status_code in (200, 201), f"POST /intakes answered {answer.status_code}: {answer.text[:300]}"
                started.append(answer.json()["case_id"])

            async def batch(path, first: int, size: int) -> tuple[float, list[float]]:
                start = time.perf_counter()
                times = await asyncio.gather(*(timed(lambda i=i: path(i)) for i in range(first, first + size)))
                return time.perf_counter() - start, times

            await batch(raw, -concurrency, concurrency)
            await batch(api, -concurrency, concurrency)
            raw_wall = api_wall = 0.0
            raw_times, api_times = [], []
            size = max(1, n // rounds)
            for r in range(rounds):
                wall, times = await batch(raw, r * size, size)
                raw_wall, raw_times = raw_wall + wall, raw_times + times
                wall, times = await batch(api, r * size, size)
                api_wall, api_times = api_wall + wall, api_times + times
                self.progress("intake vs raw", (r + 1) * size, rounds * size)
        began = time.monotonic()
        await self.wait_for_rows(started, len(started), "intakes opened", "SELECT 1 FROM cases WHERE case_id = ANY($1)")
        n = rounds * size
        return {"intake_vs_raw": {
            "server": SERVER, "value": round(n / api_wall, 1), "baseline": round(n / raw_wall, 1),
            "ratio": round(raw_wall / api_wall, 2), "unit": "cases/s", "p50_ms": round(percentile(api_times, 0.5) * 1e3, 1),
            "p99_ms": round(percentile(api_times, 0.99) * 1e3, 1),
            "raw_p50_ms": round(percentile(raw_times, 0.5) * 1e3, 1), "raw_p99_ms": round(percentile(raw_times, 0.99) * 1e3, 1),
            "cases": n, "concurrency": concurrency, "rounds": rounds, "transport": "HTTP to the uvicorn process",
            "opened_after_s": round(time.monotonic() - began, 1)}}

    # -- deadlines on time, beside the bare workflow's -----------------------------------------------
    async def deadline_lateness(self, n: int, window_s: float) -> dict:
        """`n` cases started evenly over `window_s`, so their alert deadlines fall due within that window
        (and spread_due_s later) while later ones still open; lateness from each due time to the breach
        on the record. The same for `n` bare workflows, whose breach is the time their task took the
        fired timer."""
        due_s = spread_due_s(window_s)
        bench_playbook(Path(self.settings.playbook_dir), "bench_spread", due_s)
        late, bare_late, cpu, _ = await self.lateness(n, window_s, due_s, "bench_spread", "deadlines")
        return {"deadline_lateness_p99_s": self.lateness_figure(late, bare_late, n, window_s, cpu)}

    async def deadline_burst(self, n: int, window_s: float) -> dict:
        """`n` cases started within `window_s` and given time to open (burst_due_s), so their alert
        deadlines fall due within `window_s` of each other on a quiet stack: lateness as above, beside
        `n` bare workflows; the history a breach adds to a case and to a bare workflow; the server's
        persistence calls during the burst (its own metrics)."""
        due_s = burst_due_s(n)
        bench_playbook(Path(self.settings.playbook_dir), "bench_burst", due_s)
        late, bare_late, cpu, (ids, bare_ids, opened, persistence) = await self.lateness(
            n, window_s, due_s, "bench_burst", "burst", burst=True)
        figure = self.lateness_figure(late, bare_late, n, window_s, cpu)
        figure |= {"due_after_start_s": due_s, "opened_before_due": opened, "server_persistence": persistence,
                   "history_per_breach": await self.breach_histories(ids[:3], bare_ids[:3])}
        if "burst" in self.profiles:
            figure["worker_profile"] = self.profiles["burst"]
        return {"deadline_burst_p99_s": figure}

    async def lateness(self, n: int, window_s: float, due_s: int, playbook: str, label: str, burst: bool = False):
        async with self.bare_worker():
            before = await self.server_metrics()
            bare_ids = await self.paced(n, n / window_s, lambda i: self.start_bare(i, due_s), f"bare {label}")
            if burst:  # the bare burst's CPU, from its first due time on
                await asyncio.sleep(max(0.0, due_s - window_s - 1))
            bare_cpu = self.cpu_seconds()
            bare_late = await self.wait_for_rows(
                bare_ids, n, f"bare {label} breaches", """SELECT extract(epoch FROM at - due_at) AS late FROM bench_bare
                                                 WHERE subject = 'breach 0' AND workflow_id = ANY($1)""",
                until=time.monotonic() + due_s + 300)
            bare_cpu = {k: round(v - bare_cpu.get(k, 0.0), 1) for k, v in self.cpu_seconds().items()}
        await self.warm()
        cpu = self.cpu_seconds()
        began = time.monotonic()
        ids = await self.paced(n, n / window_s, lambda i: self.start_case(f"{label}{i}", playbook), f"case {label}")
        opened = None
        if burst:  # how many were open when the first fell due; the figures from then on
            await asyncio.sleep(max(0.0, began + due_s - 1 - time.monotonic()))
            opened = await self.pool.fetchval("SELECT count(*) FROM cases WHERE case_id = ANY($1)", ids)
            before, cpu = await self.server_metrics(), self.cpu_seconds()  # the burst alone, not the openings
        with self.sampled(f"worker-{label}") as sampler:
            late = await self.wait_for_rows(
                ids, n, f"{label} breaches on record",
                """SELECT extract(epoch FROM at - (detail->>'due_at')::timestamptz) AS late FROM timeline_events
                   WHERE kind = 'breach' AND name = 'alert_acknowledgement' AND case_id = ANY($1)""",
                until=time.monotonic() + due_s + 300)
        if sampler is not None:
            self.profiles[label] = sampler.summary()
        cpu = {k: round(v - cpu.get(k, 0.0), 1) for k, v in self.cpu_seconds().items()}
        persistence = persistence_calls(before, await self.server_metrics())
        return late, bare_late, {"case": cpu, "bare": bare_cpu}, (ids, bare_ids, opened, persistence)

    @staticmethod
    def lateness_figure(late: list[float], bare_late: list[float], n: int, window_s: float, cpu: dict) -> dict:
        p99, bare_p99 = percentile(late, 0.99), percentile(bare_late, 0.99)
        return {"server": SERVER, "value": round(p99, 3), "baseline": round(bare_p99, 3),
                "ratio": round(p99 / bare_p99, 2) if bare_p99 > 0 else None,
                "p50_s": round(percentile(late, 0.5), 3), "max_s": round(max(late), 3) if late else None,
                "bare_p50_s": round(percentile(bare_late, 0.5), 3), "bare_max_s": round(max(bare_late), 3) if bare_late else None,
                "breached": len(late), "cases": n, "window_s": window_s, "cpu_s": cpu, "unit": "s"}

    async def breach_histories(self, case_ids: list[str], bare_ids: list[str]) -> dict:
        """Events from the alert's timer firing to the end of the history (the breach and what it set off),
        for a few cases and bare workflows: the median of each, and the case's by type."""
        async def after_breach(workflow_id: str) -> Counter:
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            types = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events]
            fired = types.index("TIMER_FIRED") if "TIMER_FIRED" in types else len(types)
            return Counter(types[fired:])

        cases = [await after_breach(i) for i in case_ids]
        bare = [await after_breach(i) for i in bare_ids]
        case_n, bare_n = [sum(c.values()) for c in cases], [sum(b.values()) for b in bare]
        middle = sorted(range(len(cases)), key=lambda i: case_n[i])[(len(cases) - 1) // 2] if cases else None
        return {"case_events": statistics.median(case_n) if case_n else None,
                "bare_events": statistics.median(bare_n) if bare_n else None,
                "case_workflow_tasks": cases[middle]["WORKFLOW_TASK_COMPLETED"] if cases else None,
                "bare_workflow_tasks": statistics.median(b["WORKFLOW_TASK_COMPLETED"] for b in bare) if bare else None,
                "case_by_type": dict(cases[middle].most_common()) if cases else {},
                "bare_by_type": dict(bare[0].most_common()) if bare else {}}

    # -- many cases opened at a steady rate, and the worker's memory with them open ----------------
    async def open_at_rate(self, n: int, rate: float) -> dict:
        """`n` cases started at `rate` per second: seconds from the first start until every one is open
        in PostgreSQL (its row in `cases`), against `n` bare workflows until each has recorded its first
        effect; and the worker's resident memory with the cases open. The cases get twice the bare
        workflows' time (at least half a minute past the last start): past that the target (1.5) is
        missed whatever the rest would take, and the figure is how many opened by then, and how fast."""
        async with self.bare_worker():
            start = time.monotonic()
            bare_ids = await self.paced(n, rate, lambda i: self.start_bare(i), "bare opened")
            # The baseline must finish: on a busy machine the dev server alone takes over 7 minutes.
            await self.wait_for_rows(bare_ids, n, "bare recorded",
                                     "SELECT 1 FROM bench_bare WHERE subject = 'alert' AND workflow_id = ANY($1)",
                                     until=time.monotonic() + max(900.0, 2 * n / rate))
            bare_s = time.monotonic() - start
        await self.warm()
        before = rss_mib(self.stack.worker.pid)
        start = time.monotonic()
        ids = await self.paced(n, rate, lambda i: self.start_case(f"open{i}"), "cases started")
        opened = await self.wait_for_rows(ids, n, "cases opened", "SELECT 1 FROM cases WHERE case_id = ANY($1)",
                                          until=start + max(2 * bare_s, n / rate + 30), must=False)
        waited = time.monotonic() - start
        after = rss_mib(self.stack.worker.pid)
        everyone = len(opened) >= n
        return {
            "open_at_rate_s": {"server": SERVER, "value": round(waited, 1) if everyone else None, "baseline": round(bare_s, 1),
                               "ratio": round(waited / bare_s, 2) if everyone else None, "cases": n,
                               "opened": len(opened), "waited_s": round(waited, 1),
                               "opened_per_s": round(len(opened) / waited, 1), "rate_per_s": rate, "unit": "s"},
            "open_cases_rss_mib_per_10k": {"server": SERVER, **rss_per_10k(before, after, len(opened))},
        }

    # -- helpers -------------------------------------------------------------------------------------
    def bare_worker(self) -> Worker:
        return Worker(self.client, task_queue="bench-bare", workflows=[BareCase],
                      activities=[BareNotifier(self.pool).notify], max_concurrent_workflow_task_polls=self.settings.worker_workflow_pollers,
                      max_concurrent_activity_task_polls=self.settings.worker_activity_pollers)

    async def start_bare(self, i: int, due_s: int = ALERT_DUE_S) -> str:
        workflow_id = f"bare-{i}-{uuid.uuid4().hex[:6]}"
        await self.client.start_workflow(BareCase.run, [due_s], id=workflow_id, task_queue="bench-bare")
        return workflow_id

    async def start_case(self, name: str, playbook: str | None = None) -> str:
        case = intake(name, potential_crisis=True, **({"playbook": playbook} if playbook else {}))
        await self.client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue=self.stack.task_queue)
        return case_id_for(case.intake_id)

    async def warm(self) -> None:
        """The worker's code, caches and first workflows loaded before measuring."""
        for i in range(5):
            await self.start_case(f"warm{i}")
        await asyncio.sleep(3)

    async def paced(self, n: int, rate: float, start_one: Callable, label: str) -> list[str]:
        """Start `n` workflows at `rate` per second (each start its own task, so a slow answer does not
        hold the next one back); their ids in order."""
        begin, tasks = time.monotonic(), []
        for i in range(n):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(start_one(i)))
            if (i + 1) % max(1, n // 10) == 0:
                self.progress(label, i + 1, n)
        return list(await asyncio.gather(*tasks))

    async def wait_for_rows(self, ids: list[str], n: int, label: str, query: str, until: float | None = None,
                            must: bool = True) -> list[float]:
        """Poll `query` (over `ids`) until it returns `n` rows, or `until` (monotonic; by default a few
        minutes); the rows' first column. Short of `n` then: an error, or the rows so far (`must=False`)."""
        deadline, rows = until or time.monotonic() + ALERT_DUE_S + 300, []
        while True:
            previous, rows = len(rows), await self.pool.fetch(query, ids)
            if len(rows) != previous:
                self.progress(label, len(rows), n)
            if len(rows) >= n or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        if len(rows) < n and must:
            raise RuntimeError(f"{label}: {len(rows)} of {n} by the deadline")
        return [float(r[0]) for r in rows]

    def cpu_seconds(self) -> dict[str, float]:
        return cpu_seconds(self.processes())

    async def server_metrics(self) -> dict[str, float]:
        """The dev server's own Prometheus counters (persistence calls and their latency sums)."""
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                text = (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        except httpx.HTTPError:
            return {}
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(("persistence_requests{", "persistence_latency_sum{", "persistence_latency_count{")):
                key, _, value = line.rpartition(" ")
                values[key] = values.get(key, 0.0) + float(value)
        return values

def distinct_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process and everything it started (its descendants)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds of it and its reaped children)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _, tail = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = tail.split()
        stats[int(stat.parent.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        return stats.get(pid, (0, 0.0))[1] + sum(tree(c) for c in children.get(pid, []))

    used = {name: tree(pid) for name, pid in roots.items() if name != "bench (bare worker)"}
    if (me := roots.get("bench (bare worker)")) is not None:  # this process alone: the stack is its children
        used["bench (bare worker)"] = stats.get(me, (0, 0.0))[1]
    return used


def persistence_calls(before: dict[str, float], after: dict[str, float], top: int = 8) -> dict:
    """The server's persistence operations between two scrapes: calls and total seconds, the costliest first."""
    ops: dict[str, dict[str, float]] = {}
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        if delta <= 0 or 'operation="' not in key:
            continue
        op = key.split('operation="', 1)[1].split('"', 1)[0]
        field = "calls" if key.startswith("persistence_requests") else "seconds" if "_sum" in key else None
        if field:
            ops.setdefault(op, {"calls": 0.0, "seconds": 0.0})[field] += delta
    ranked = sorted(ops.items(), key=lambda kv: -kv[1]["seconds"])[:top]
    return {op: {"calls": int(v["calls"]), "seconds": round(v["seconds"], 2)} for op, v in ranked}


async def run(root: Path, progress: Progress, intakes: int, deadlines: int, window_s: float, open_cases: int,
              burst: int, burst_window_s: float, pairs: int = 3, phases: set[str] | None = None,
              profile: Path | None = None, runner: Phases | None = None, logs: Path | None = None) -> dict:
    """The phases on one stack, in order; `phases` (names of PHASES) runs only those. A phase that fails
    is recorded by `runner` and the next one runs; the stack's logs are then kept in `logs`."""
    runner = runner or Phases()
    wanted = (lambda name: phases is None or name in phases)
    results: dict = {}
    bench = CostBench(root, progress, profile)
    failed_before = len(runner.failed)
    with runner.run("stack start"):
        await bench.__aenter__()
    if len(runner.failed) > failed_before:
        return results
    try:
        for name, label, measure in (
                ("case_vs_bare", "case_vs_bare", lambda: bench.case_vs_bare(pairs)),
                ("intake", "intake_vs_raw", lambda: bench.intake_vs_raw(intakes)),
                ("burst", "deadline_burst", lambda: bench.deadline_burst(burst, burst_window_s)),
                ("deadlines", "deadline_lateness", lambda: bench.deadline_lateness(deadlines, window_s)),
                ("open", "open_at_rate", lambda: bench.open_at_rate(open_cases, OPEN_RATE))):
            if wanted(name):
                with runner.run(label, bench.diagnose):
                    results |= await measure()
    finally:
        if len(runner.failed) > failed_before and logs is not None:
            bench.keep_logs(logs)
        with runner.run("stack stop"):
            await bench.__aexit__(None, None, None)
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
    return {"drill_30day_s": {"server": "time-skipping dev server in memory (crisis drill)", "value": round(wall, 2), "baseline": round(baseline, 2), "ratio": round(wall / baseline, 2),
                              "unit": "s", "scenario": scenario.name, "steps": len(month["steps"])}}


async def replay_seconds(progress: Progress) -> dict:
    """Replaying every run of the newest recorded 60-day case (benchmarks/histories/long_haul_60d_run*) as the
    worker does, in the workflow sandbox, against replaying them without it (the SDK's unsandboxed
    runner): the baseline is crisisdesk's own workflow code, the ratio what the sandbox adds."""
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

    from crisisdesk.code import workflow_runner
    from workflows.case import CrisisWorkflow

    directory = Path(__file__).resolve().parent / "histories"  # recorded by tests/test_case_long.py
    newest = max((p.stem.rsplit("_", 1)[1] for p in directory.glob("long_haul_60d_run*.json")), key=lambda v: int(v[1:]))  # the current code's
    runs = [WorkflowHistory.from_json(p.stem, p.read_text())
            for p in sorted(directory.glob(f"long_haul_60d_run*_{newest}.json"))]

    async def replay_all(runner, label: str) -> float:
        replayer = Replayer(workflows=[CrisisWorkflow], data_converter=data_converter(), workflow_runner=runner)
        await replayer.replay_workflow(runs[0])  # warm: first imports and caches are not replay
        start = time.perf_counter()
        for i, history in enumerate(runs, start=1):
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                raise RuntimeError(f"replay of {history.workflow_id} failed: {result.replay_failure}")
            progress(label, i, len(runs))
        return time.perf_counter() - start

    baseline = await replay_all(UnsandboxedWorkflowRunner(), "replay without the sandbox")
    wall = await replay_all(workflow_runner(), "replay")
    return {"replay_60day_s": {"server": "none (Replayer)", "value": round(wall, 3), "baseline": round(baseline, 3), "ratio": round(wall / baseline, 2),
                               "unit": "s", "runs": len(runs), "events": sum(len(h.events) for h in runs)}}
