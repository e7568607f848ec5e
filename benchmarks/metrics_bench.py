"""The month's service metrics over 1,000,000 recorded cases, and the Prometheus scrape, against baselines.

    python -m benchmarks.metrics_bench [--cases 1000000] [--runs 3]

A throw-away PostgreSQL is loaded with N cases reported over one month (50 projects, each in one of
7 regions), each with a realistic
timeline of 20 events (deadlines set and met, some late and breached, actions, stages,
notifications, a survey; some cancelled, some crises, one in a hundred terminated outside crisisdesk,
a third with their targets met in working time) and most with a survey answer: about 20 × N
timeline rows, then the rollups built from them in one pass (migration 010's rebuild). Then `compute_metrics` for that month (all N cases), ungrouped and by severity,
is timed against `SELECT count(*)` over the same `cases` table, and the API's `GET /metrics` scrape
(through the app, in process) against the same scrape before any case was loaded. Median of
`--runs`, after one warm-up each.

`run(progress)` is what `make bench` calls: `progress(label, done, total)` is told while data loads.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

MONTH = (datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 4, 1, tzinfo=timezone.utc))
BATCH = 10_000

_CASES = """
INSERT INTO cases (case_id, intake_id, summary, project_id, region, playbook, playbook_version, received_at,
                   stage, path, severity, category, contingency, breached, status, updated_at)
SELECT 'crisis-b' || i, 'b' || i, 'benchmark case', 'P-' || (i % 50), 'r' || (i % 50 % 7), 'delivery', 1 + i % 2, r.at,
       CASE WHEN i % 20 = 0 THEN 'cancelled' WHEN i % 100 = 3 THEN 'terminated' WHEN i % 10 < 8 THEN 'closed'
            ELSE 'solving' END,
       CASE WHEN i % 20 = 1 THEN 'crisis' ELSE 'ordinary' END,
       (ARRAY['general', 'important', 'urgent'])[1 + i % 3],
       (ARRAY['technical', 'complaint', 'safety', 'operational'])[1 + i % 4],
       i % 50 = 1, i % 10 = 9,
       jsonb_build_object('received_at', r.at, 'deadlines', CASE WHEN i % 10 >= 8 AND i % 20 <> 0
           THEN jsonb_build_array(jsonb_build_object('name', 'resolution', 'due_at', r.at + interval '3 days'))
           ELSE '[]'::jsonb END),
       r.at + interval '3 days'
FROM generate_series($1::int, $2::int - 1) AS i,
     LATERAL (SELECT $3::timestamptz + (i % 2678400) * interval '1 second' AS at) r"""

# Twenty events per case; what each is depends on its number and on the case (i).
_EVENTS = """
INSERT INTO timeline_events (case_id, seq, at, kind, name, by_person, detail)
SELECT 'crisis-b' || i, s, $3::timestamptz + (i % 2678400) * interval '1 second' + s * (300 + i % 3600) * interval '1 second',
       e.kind, e.name, 'Chen CS', e.detail
FROM generate_series($1::int, $2::int - 1) AS i, generate_series(1, 20) AS s,
LATERAL (SELECT
  CASE WHEN i % 20 = 0 AND s > 6 THEN 'notification'
       ELSE (ARRAY['opened', 'deadline_set', 'deadline_set', 'deadline_set', 'notification', 'action', 'deadline_met',
                   'stage', 'action', 'deadline_met', 'stage', 'action', 'action', 'stage', 'action', 'deadline_met',
                   'stage', 'survey_sent',
                   CASE WHEN i % 7 = 0 THEN 'breach' WHEN i % 20 = 1 THEN 'path' ELSE 'notification' END,
                   CASE WHEN i % 50 = 1 THEN 'contingency' WHEN i % 100 = 3 THEN 'terminated' ELSE 'stage' END])[s]
       END AS kind,
  CASE WHEN i % 20 = 0 AND s = 6 THEN 'cancelled' WHEN i % 20 = 0 AND s > 6 THEN 'reminder'
       ELSE (ARRAY['intake', 'acknowledgement', 'response', 'resolution', 'acknowledgement', 'triage', 'acknowledgement',
                   'solving', 'solution_proposed', 'response', 'executing', 'execution_started', 'execution_done',
                   'confirming', 'resolution_confirmed', 'resolution', 'surveying', 'survey',
                   CASE WHEN i % 7 = 0 THEN 'acknowledgement' WHEN i % 20 = 1 THEN 'crisis' ELSE 'breach' END,
                   CASE WHEN i % 50 = 1 THEN 'on' WHEN i % 100 = 3 THEN 'temporal' WHEN i % 10 < 8 THEN 'closed'
                        ELSE 'reviewing' END])[s] END AS name,
  CASE WHEN s IN (2, 3, 4, 19) OR (s IN (7, 10, 16) AND i % 7 = 0)
       THEN jsonb_build_object('due_at', $3::timestamptz + (i % 2678400 + 3600 * s) * interval '1 second',
                               'late_by_seconds', CASE WHEN s IN (7, 10, 16) THEN 60 * (i % 240) END,
                               'level', CASE WHEN s = 19 THEN i % 2 END)
       WHEN s = 15 THEN jsonb_build_object('satisfied', i % 25 <> 0)
       WHEN s IN (7, 10, 16) THEN jsonb_build_object('due_at', $3::timestamptz + (i % 2678400 + 3600 * s) * interval '1 second')
       ELSE '{}'::jsonb END
  -- a third of the cases count their targets in business time: the working seconds each took (issue 25)
  || CASE WHEN i % 3 = 0 AND s IN (7, 10, 16) THEN jsonb_build_object('working_seconds', s * (300 + i % 3600) / 3)
          ELSE '{}'::jsonb END AS detail) e"""

_SURVEYS = """
INSERT INTO survey_responses (key, case_id, score, timeliness, effectiveness, attitude, at)
SELECT 'crisis-b' || i || ':survey', 'crisis-b' || i, 1 + i % 5, 1 + (i / 5) % 5, 1 + (i / 25) % 5, 1 + (i / 7) % 5,
       $3::timestamptz + (i % 2678400) * interval '1 second' + interval '2 days'
FROM generate_series($1::int, $2::int - 1) AS i WHERE i % 10 < 7 AND i % 20 <> 0"""


def stderr_progress(label: str, done: int, total: int) -> None:
    print(f"\r  {label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


async def _timed(call, runs: int) -> float:
    await call()  # warm-up: plans cached, pages in memory
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def load(pool, cases: int, progress: Callable[[str, int, int], None]) -> None:
    """The cases in bulk, then the rollups in one pass (`crisis_rebuild_rollups`, what migration 010
    does for a database that already holds cases): through the per-record triggers a million cases
    take the better part of an hour to load here. The per-record path is what the stack's phases and
    tests/test_metrics.py exercise."""
    async with pool.acquire() as conn:
        tables = ("cases", "timeline_events", "survey_responses")
        for table in tables:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for lo in range(0, cases, BATCH):
            hi = min(lo + BATCH, cases)
            async with conn.transaction():
                for sql in (_CASES, _EVENTS, _SURVEYS):
                    await conn.execute(sql, lo, hi, MONTH[0], timeout=600)
            progress("loading cases", hi, cases)
        for table in tables:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        progress("rollups", 0, 1)
        await conn.execute("SELECT crisis_rebuild_rollups()", timeout=3600)
        progress("rollups", 1, 1)
        # What autovacuum does on a live database.
        for table in (*tables, "case_facts", "deadline_facts", "case_days", "deadline_days"):
            await conn.execute(f"VACUUM ANALYZE {table}", timeout=3600)


async def scrape_seconds(settings, runs: int) -> float:
    """`GET /metrics` through the intake API's app, in process: the median of `runs`."""
    import httpx

    from starter.api import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        async def scrape():
            answer = await http.get("/metrics")
            assert answer.status_code == 200 and "crisis_open_cases" in answer.text, answer.text[:300]

        return await _timed(scrape, runs)


async def run(progress: Callable[[str, int, int], None] = stderr_progress, cases: int = 1_000_000,
              runs: int = 3) -> dict[str, dict]:
    from activities.db import create_pool, migrate
    from activities.metrics import compute_metrics
    from crisisdesk.models.metrics import MetricsQuery
    from crisisdesk.settings import Settings
    from starter.stack import start_postgres

    with tempfile.TemporaryDirectory(prefix="crisis-bench-metrics-") as tmp:
        pg = start_postgres(Path(tmp) / "pg")
        try:
            await migrate(pg.get_uri())
            settings = Settings(database_url=pg.get_uri(), temporal_address="127.0.0.1:1")  # no Temporal: /metrics needs none
            scrape_empty = await scrape_seconds(settings, max(runs, 5))
            pool = await create_pool(pg.get_uri(), max_size=2)
            try:
                await load(pool, cases, progress)
                query = MetricsQuery(since=MONTH[0], until=MONTH[1])
                report = await compute_metrics(pool, query)
                assert report.cases_opened == cases, report.message  # the month really holds them all

                async def metrics():
                    await compute_metrics(pool, query)

                async def by_severity():
                    await compute_metrics(pool, query.model_copy(update={"by": "severity"}))

                async def count_cases():
                    await pool.fetchval("SELECT count(*) FROM cases")

                progress("timing", 0, 4)
                measured = await _timed(metrics, runs)
                progress("timing", 1, 4)
                grouped = await _timed(by_severity, runs)
                progress("timing", 2, 4)
                cases_baseline = await _timed(count_cases, runs)
                progress("timing", 3, 4)
                scrape = await scrape_seconds(settings, max(runs, 5))
                progress("timing", 4, 4)
            finally:
                await pool.close()
        finally:
            pg.cleanup()
    where = "PostgreSQL alone (embedded)"
    return {
        "metrics_month_vs_count_cases": {"server": where, "value": round(measured, 4), "baseline": round(cases_baseline, 5),
                                         "ratio": round(measured / cases_baseline, 1), "unit": "s", "cases": cases},
        "metrics_month_by_severity_s": {"server": where, "value": round(grouped, 4), "baseline": round(measured, 4),
                                        "ratio": round(grouped / measured, 2), "unit": "s", "cases": cases},
        "prometheus_scrape_s": {"server": where, "value": round(scrape, 4), "baseline": round(scrape_empty, 4),
                                "ratio": round(scrape / scrape_empty, 2), "unit": "s", "cases": cases,
                                "baseline_is": "the same scrape with no case recorded"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases recorded in the month")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each query (median)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(stderr_progress, args.cases, args.runs)), indent=2))


if __name__ == "__main__":
    main()
