"""Speed and memory of the parts a busy crisis desk leans on, each as a ratio to a baseline.

    python -m benchmarks [--quick] [--phases burst,intake] [--deadlines N] [--burst N] [--open-cases N]
                         [--intakes N] [--out bench-results.json] [--readme]

Every figure is written to bench-results.json with its baseline and ratio; `--readme` regenerates
README.md's table from that file, with the server each figure was measured on. Beside the three below,
benchmarks/cost.py measures, on the stack `crisis dev` runs, a case against a bare workflow, intake
against raw starts, deadline lateness (spread and burst) and memory with many open cases, then the
30-day drill and a replay; benchmarks/metrics_bench.py the month's metrics and the Prometheus scrape.
A failure names its phase (exit code 1) and stops everything the run started.

1. rules: an action through the case's transactional rules (snapshot, step, rollback on refusal)
   against parsing the same action alone: what the all-or-nothing guarantee costs.
2. state: the carried case's size after N actions against the size of the raw action payloads:
   what continue-as-new hands over.
3. end to end: operator updates on a real case (worker, activities, PostgreSQL) against no-op
   updates on a trivial workflow on the same server: what the case workflow adds per action.
"""

import argparse
import logging
import os
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from temporalio.worker import Worker

from benchmarks.baseline import BenchBaseline
from benchmarks.phases import Phases
from crisisdesk.logs import configure_logging
from crisisdesk.models.actions import parse_action
from crisisdesk.models.case import ActionResult
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.playbooks import load_playbook
from crisisdesk.settings import Settings
from starter.stack import start_dev_server, start_postgres
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
    from starter.worker import build_worker

    with tempfile.TemporaryDirectory() as tmp:
        pg = start_postgres(Path(tmp) / "pg")
        dsn = pg.get_uri()
        await migrate(dsn)
        pool = await create_pool(dsn)
        env = await start_dev_server()
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


SIZES = {  # (updates, actions, intakes, deadlines, their window in seconds, open cases, metrics cases, burst, its window)
    "quick": (20, 200, 20, 20, 2.0, 40, 2_000, 20, 2.0),
    "default": (200, 2000, 400, 1000, 50.0, 10_000, 1_000_000, 600, 3.0),
}
PHASES = ("rules", "state", "update", "replay", "case_vs_bare", "intake", "burst", "deadlines", "open", "drill", "metrics")
MEMORY = "in-memory dev server (start_local)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute (the test suite runs this)")
    parser.add_argument("--phases", help=f"comma-separated, only these: {', '.join(PHASES)}")
    parser.add_argument("--deadlines", type=int, help="cases whose deadlines fall due within the minute (lateness)")
    parser.add_argument("--burst", type=int, help="cases whose deadlines fall due within 3 s (burst lateness)")
    parser.add_argument("--open-cases", type=int, help="cases opened at 80/s (time to open them all, memory)")
    parser.add_argument("--intakes", type=int, help="intakes for intake_vs_raw")
    parser.add_argument("--metric-cases", type=int, help="cases for the month's metrics")
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"), help="where the JSON goes")
    parser.add_argument("--profile", type=Path, help="sample the worker with py-spy during the deadline phases; files here")
    parser.add_argument("--readme", action="store_true", help="only regenerate README.md's table from --out")
    args = parser.parse_args()
    configure_logging(os.environ.get("LOG_FORMAT", "console"), level=logging.WARNING)  # stderr is for progress
    if args.readme:
        write_readme_table(json.loads(args.out.read_text()))
        return
    phases = set(args.phases.split(",")) if args.phases else None
    if phases and (unknown := phases - set(PHASES)):
        parser.error(f"--phases: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    runner = Phases()
    results = run_phases(args, phases, runner)
    args.out.write_text(json.dumps({"quick": args.quick, "results": results, "failed": runner.report()}, indent=2,
                                   ensure_ascii=False))
    print(table(results))
    print(f"\nwritten to {args.out}", file=sys.stderr)
    if runner.failed:
        print("failed: " + "; ".join(f"{f.phase} ({f.reason})" for f in runner.failed), file=sys.stderr)
        sys.exit(1)


def run_phases(args, phases: set[str] | None, runner: Phases) -> dict:
    updates, actions, intakes, deadlines, window_s, open_cases, metric_cases, burst, burst_window_s = \
        SIZES["quick" if args.quick else "default"]
    intakes, deadlines, open_cases = args.intakes or intakes, args.deadlines or deadlines, args.open_cases or open_cases
    burst, metric_cases = args.burst or burst, args.metric_cases or metric_cases
    wanted = (lambda name: phases is None or name in phases)

    from benchmarks import cost, metrics_bench

    results: dict = {}
    if wanted("rules"):
        with runner.run("rules_vs_parse"):
            base, rules = bench_rules(actions)
            results["rules_vs_parse"] = {"server": "none", "value": round(rules / actions * 1e6, 1),
                                         "baseline": round(base / actions * 1e6, 1), "ratio": round(rules / base, 2),
                                         "unit": "µs per action"}
    if wanted("state"):
        with runner.run("carried_state_vs_payloads"):
            raw, carried = bench_state(actions)
            results["carried_state_vs_payloads"] = {"server": "none", "value": round(carried / 1024, 1),
                                                    "baseline": round(raw / 1024, 1), "ratio": round(carried / raw, 2),
                                                    "unit": "KiB", "actions": actions}
    if wanted("update"):
        with runner.run("update_vs_noop"):
            e2e_base, e2e = asyncio.run(bench_end_to_end(updates))
            results["update_vs_noop"] = {"server": MEMORY, "value": round(e2e / updates * 1e3, 2),
                                         "baseline": round(e2e_base / updates * 1e3, 2),
                                         "ratio": round(e2e / e2e_base, 2), "unit": "ms per update"}
    # Replay first: after 10,000 cases this process's heap makes the garbage collector, not replay, the cost.
    if wanted("replay"):
        with runner.run("replay_60day_s"):
            results |= asyncio.run(cost.replay_seconds(progress))
    with tempfile.TemporaryDirectory(prefix="crisis-bench-") as tmp:
        stack_phases = {"case_vs_bare", "intake", "burst", "deadlines", "open"}
        if phases is None or phases & stack_phases:
            results |= asyncio.run(cost.run(Path(tmp), progress, intakes, deadlines, window_s, open_cases, burst,
                                            burst_window_s, pairs=1 if args.quick else 3,
                                            phases=None if phases is None else phases & stack_phases,
                                            profile=args.profile, runner=runner,
                                            logs=args.out.with_name(f"{args.out.stem}-logs")))
        if wanted("drill"):
            with runner.run("drill_30day_s"):
                results |= cost.drill_seconds(progress, Path(tmp))
    if wanted("metrics"):
        with runner.run("metrics"):
            results |= asyncio.run(metrics_bench.run(progress, metric_cases, runs=3))
    return results


def table(results: dict) -> str:
    lines = ["| figure | value | baseline | ratio | server |", "| --- | ---: | ---: | ---: | --- |"]
    for name, r in results.items():
        unit = r.get("unit", "")
        value = f"{r['value']} {unit}"
        if r["value"] is None and "opened" in r:  # not all opened in the time allowed
            value = f"{r['opened']:,} of {r['cases']:,} opened in {r['waited_s']} s"
        lines.append(f"| `{name}` | {value} | {r.get('baseline', '–')} | {r.get('ratio', '–')} | {r.get('server', '–')} |")
    return "\n".join(lines)


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_readme_table(data: dict) -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text:
        raise SystemExit(f"README.md has no {BEGIN} … {END} section to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table(data['results'])}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
