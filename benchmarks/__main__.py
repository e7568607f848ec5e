"""Speed and memory of the parts a busy crisis desk leans on, each as a ratio to a baseline.

    python -m benchmarks [--actions N]

1. rules: an action through the case's transactional rules (snapshot, step, rollback on refusal)
   against parsing the same action alone: what the all-or-nothing guarantee costs.
2. state: the carried case's size after N actions against the size of the raw action payloads:
   what continue-as-new hands over.
3. end to end: operator updates on a real case (worker, activities, PostgreSQL) against no-op
   updates on a trivial workflow on the same server: what the case workflow adds per action.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.baseline import BenchBaseline
from crisisdesk.converter import data_converter
from crisisdesk.models.actions import parse_action
from crisisdesk.models.case import ActionResult
from crisisdesk.models.intake import Intake
from crisisdesk.names import SEARCH_ATTRIBUTES, case_id_for
from crisisdesk.playbooks import load_playbook
from crisisdesk.settings import Settings
from starter.stack import start_postgres, temporal_binary
from workflows.casefile import CaseFile
from workflows.steps import apply

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
INTAKE = Intake(intake_id="bench", summary="benchmark case", roles={"head": "H"})


def note(i: int) -> dict:
    return {"by": "Chen CS", "text": f"check-in {i}: customer called again about the leak"}


def progress(label: str, i: int, n: int) -> None:
    if i % max(1, n // 10) == 0 or i == n:
        print(f"\r  {label}: {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)


def bench_rules(n: int) -> tuple[float, float]:
    start = time.perf_counter()
    for i in range(n):
        parse_action("note", note(i))
    baseline = time.perf_counter() - start
    case = CaseFile.open("crisis-bench", INTAKE, load_playbook("delivery"), NOW)
    start = time.perf_counter()
    for i in range(n):
        with case.attempt():
            apply(case, "note", parse_action("note", note(i)), NOW)
        progress("rules", i + 1, n)
    return baseline, time.perf_counter() - start


def bench_state(n: int) -> tuple[int, int]:
    case = CaseFile.open("crisis-bench", INTAKE, load_playbook("delivery"), NOW)
    for i in range(n):
        with case.attempt():
            apply(case, "note", parse_action("note", note(i)), NOW)
    raw = sum(len(json.dumps(note(i))) for i in range(n))
    return raw, len(case.state.model_dump_json())


async def bench_end_to_end(n: int) -> tuple[float, float]:
    from activities.db import create_pool, migrate
    from worker import build_worker

    with tempfile.TemporaryDirectory() as tmp:
        pg = start_postgres(Path(tmp) / "pg")
        dsn = pg.get_uri()
        await migrate(dsn)
        pool = await create_pool(dsn)
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary(),
                                                    search_attributes=SEARCH_ATTRIBUTES, data_converter=data_converter(),
                                                    dev_server_log_level="error")
        settings = Settings(database_url=dsn, CRISIS_TASK_QUEUE="bench", CRISIS_REPORT_DIR=Path(tmp) / "reports")
        try:
            async with Worker(env.client, task_queue="bench-baseline", workflows=[BenchBaseline]):
                handle = await env.client.start_workflow(BenchBaseline.run, id=f"b-{uuid.uuid4()}", task_queue="bench-baseline")
                start = time.perf_counter()
                for i in range(n):
                    await handle.execute_update(BenchBaseline.note, note(i))
                baseline = time.perf_counter() - start
                await handle.signal(BenchBaseline.finish)
            async with build_worker(env.client, settings, pool):
                handle = await env.client.start_workflow("CrisisWorkflow", INTAKE.model_copy(update={"intake_id": f"b{uuid.uuid4().hex[:8]}"}),
                                                         id=case_id_for(f"b{uuid.uuid4().hex[:8]}"), task_queue="bench")
                await handle.execute_update("note", note(-1), result_type=ActionResult)  # opened and warm
                start = time.perf_counter()
                for i in range(n):
                    await handle.execute_update("note", note(i), result_type=ActionResult)
                    progress("end to end", i + 1, n)
                measured = time.perf_counter() - start
                await handle.terminate("benchmark done")
        finally:
            await env.shutdown()
            await pool.close()
            pg.cleanup()
    return baseline, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=2000, help="actions for the in-process benchmarks")
    parser.add_argument("--updates", type=int, default=200, help="updates for the end-to-end benchmark")
    args = parser.parse_args()

    base, rules = bench_rules(args.actions)
    raw, carried = bench_state(args.actions)
    e2e_base, e2e = asyncio.run(bench_end_to_end(args.updates))
    rows = [
        ("rules per action vs parse only", rules / base, f"{rules / args.actions * 1e6:.0f} µs vs {base / args.actions * 1e6:.0f} µs"),
        ("carried state vs raw payloads", carried / raw, f"{carried / 1024:.0f} KiB vs {raw / 1024:.0f} KiB after {args.actions} actions"),
        ("case update vs no-op update", e2e / e2e_base, f"{e2e / args.updates * 1e3:.1f} ms vs {e2e_base / args.updates * 1e3:.1f} ms"),
    ]
    print(f"{'benchmark':34} {'ratio':>7}  detail")
    for name, ratio, detail in rows:
        print(f"{name:34} {ratio:7.2f}  {detail}")


if __name__ == "__main__":
    main()
