"""Service metrics from the record: thirty real cases (and a drill) through the real workflow in
simulated time, every figure checked against values computed independently from their timelines;
the same JSON from `crisis metrics --json` and `GET /metrics/cases`; Prometheus gauges; bad input."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from activities import metrics
from activities.gauges import OPEN, business_gauges
from activities.metrics import compute_metrics
from crisisdesk.models.metrics import MetricsQuery
from starter.api import create_app
from starter.cli import app as cli
from tests.helpers import eventually
from tests.helpers.metrics_expected import expected
from tests.helpers.stories import HEAD, REVIEW, ordinary, settled

async def crisis(case):
    """Alert, plan, a 12 h first-contact breach, the plan turned down and revised, media, contingency, closure."""
    await case.act("acknowledge", by=HEAD)
    await case.act("decide_plan", by=HEAD, summary="Repair the roof", department="engineering")
    await case.skip(hours=13)
    await case.act("customer_contacted", by="Chen CS", channel="phone")
    await case.act("customer_answer", by="Chen CS", satisfied=False)
    await case.act("revise_plan", by="Chen CS", kind="specific", summary="Repair and dry the ceiling")
    await case.act("approve_revision", by="Zhao Eng")
    await case.act("customer_contacted", by="Chen CS", channel="phone")
    await case.act("customer_answer", by="Chen CS", satisfied=True)
    await case.act("external_involvement", by="Chen CS", party="media", level="provincial", source="Provincial TV")
    await case.act("execution_started", by="Zhao Eng", department="engineering")
    await case.act("execution_done", by="Zhao Eng")
    await case.act("resolution_confirmed", by="Chen CS", satisfied=True)
    await case.act("survey_response", by="Chen CS", score=4, timeliness=3, effectiveness=4, attitude=5)
    await case.act("review_done", **{**REVIEW, "cause": "Roof membrane torn at handover"})


async def urgent_left_open(case):
    await case.skip(hours=14)  # acknowledgement (30 min) breached, reminded twice, escalated a level
    await case.act("triage", by="Chen CS", severity="urgent", category="operational")


async def cancelled(case):
    await case.act("cancel", by=HEAD, reason="duplicate report")


async def raised(case):
    await case.act("triage", by="Chen CS", severity="general", category="complaint")
    await case.act("escalate", by="Chen CS", severity="important", reason="the owner called the hotline twice")


def scenarios() -> list[tuple[dict, object]]:
    """(intake fields, what happens) for 30 real cases across projects, playbooks, severities."""
    a, b = {"id": "P-A", "name": "Riverside"}, {"id": "P-B", "name": "Garden Court"}
    plan: list[tuple[dict, object]] = []
    plan += [({"project": a}, lambda c, w=w: ordinary(c, score=5, wait=w)) for w in (1, 2, 3, 1, 2, 3, 2, 3)]
    plan += [({"project": b}, lambda c, s=s: ordinary(c, "important", "complaint", s)) for s in (2, 3, 4)]
    plan += [({"project": a}, lambda c: ordinary(c, score=4, wait=5)) for _ in range(2)]  # acknowledged late
    plan += [({"project": b}, lambda c: ordinary(c, "general", "complaint", 3, reject_first=True)) for _ in range(2)]
    plan += [({"project": a, "severity": "urgent"}, urgent_left_open) for _ in range(2)]
    plan += [({"project": b}, cancelled) for _ in range(2)]
    plan += [({"project": a}, lambda c: ordinary(c, score=5, answer=False)) for _ in range(2)]  # survey unanswered
    plan += [({"project": b}, lambda c: ordinary(c, "important", "safety", score=None)) for _ in range(2)]
    plan += [({"project": b, "potential_crisis": True, "severity": "important", "category": "complaint"}, crisis)
             for _ in range(2)]
    plan += [({"project": a, "playbook": book}, lambda c: ordinary(c, score=5)) for book in ("after_sales", "service")]
    plan += [({"project": b, "playbook": book}, lambda c: ordinary(c, score=2, wait=2)) for book in ("after_sales", "service")]
    plan += [({"project": a}, raised)]
    return plan


@pytest.fixture
def region() -> str:
    return f"metrics-{uuid.uuid4().hex[:8]}"


def assert_close(got, want, where: str) -> None:
    """Equal, numbers within rounding (SQL and Python add seconds in a different order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, float) and got is not None:
        assert got == pytest.approx(want, rel=1e-6, abs=1e-6), where
    else:
        assert got == want, where


def check_figures(report, cases) -> None:
    got = report.model_dump(mode="json")
    for field, value in expected(cases).items():
        assert_close(got[field], value, field)


async def test_metrics_match_the_timelines(open_case, pool, region, settings, client):
    gate = asyncio.Semaphore(8)

    async def run(fields: dict, story, drill: bool = False):
        async with gate:
            project = {**fields.pop("project"), "region": region}
            intake_id = f"{'drill-' if drill else 'mx-'}{uuid.uuid4().hex[:10]}"
            case = await open_case(intake_id=intake_id, project=project, **fields)
            await story(case)
            return case

    real = await asyncio.gather(*(run(dict(f), s) for f, s in scenarios()))
    drill = await run({"project": {"id": "P-A"}}, lambda c: ordinary(c, score=1), drill=True)
    assert len(real) == 30

    async def snapshot():
        cases = await settled(real, pool)
        received = [s.received_at for s, _ in cases]
        query = MetricsQuery(since=min(received) - timedelta(minutes=1), until=max(received) + timedelta(minutes=1),
                             region=region)
        reports = {by: await compute_metrics(pool, query.model_copy(update={"by": by}))
                   for by in (None, "severity", "playbook", "project", "category")}
        unchanged = [len(await c.timeline()) for c in real] == [len(t) for _, t in cases]
        return cases, query, reports, unchanged

    cases, query, reports, _ = await eventually(snapshot, lambda r: r[3], timeout=60)
    report = reports[None]
    check_figures(report, cases)
    # The story is what the figures say, not only that two computations agree.
    assert report.cases_opened == 30 and report.cases_cancelled == 2 and report.drill_cases == 1
    assert report.reopenings.resolution_rejected == 2 and report.reopenings.plan_rejected == 2
    assert report.crises == 2 and report.contingencies == 2 and report.media_involved == 2
    assert report.escalations.levels_reached.get("2") == 2 and report.escalations.severity_raised == 1
    assert report.sla_compliance["first_contact"].missed == 2 and report.sla_compliance["acknowledgement"].still_breached == 0
    assert report.satisfaction.surveys_sent == report.satisfaction.responses + 4  # four surveys never answered
    assert 0 < report.resolution_rate < 1 and report.satisfaction.score.share_satisfied is not None
    # after_sales and service count their SLA targets in working time, and so do their figures (issue 25).
    assert report.working_time_cases == 4
    working = {g.group: g for g in reports["playbook"].groups if not g.group.startswith("delivery")}
    assert len(working) == 2 and all(g.working_time_cases == g.cases_opened == 2 for g in working.values())

    for by in ("severity", "playbook", "project", "category"):
        key = {"severity": lambda s: s.severity.value, "playbook": lambda s: f"{s.playbook} v{s.playbook_version}",
               "project": lambda s: s.project["id"], "category": lambda s: s.category.value if s.category else "(none)"}[by]
        groups = {g.group: g for g in reports[by].groups}
        assert set(groups) == {key(s) for s, _ in cases}, by
        for name, group in groups.items():
            check_figures(group, [(s, t) for s, t in cases if key(s) == name])

    drills = await compute_metrics(pool, query.model_copy(update={"scope": "drill"}))
    assert drills.cases_opened == 1 and drills.satisfaction.score.distribution["1"] == 1
    assert drills.drill_cases == 1 and drill.id.startswith("crisis-drill-")

    # The same figures where people look: the CLI's JSON and the API's.
    args = ["metrics", "--json", "--since", query.since.isoformat(), "--until", query.until.isoformat(),
            "--region", region]
    env = {"DATABASE_URL": settings.dsn(), "CRISIS_DEBUG": ""}
    shown = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == report.model_dump(mode="json")
    table = await asyncio.to_thread(CliRunner().invoke, cli, [*args[:1], *args[2:], "--by", "severity"],
                                    env={**env, "COLUMNS": "160"})
    assert table.exit_code == 0 and "urgent" in table.stdout and "first_contact" in table.stdout

    app = create_app(settings, client)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        answer = await http.get("/metrics/cases", params={"since": query.since.isoformat(),
                                                          "until": query.until.isoformat(), "region": region})
        assert answer.status_code == 200 and answer.json() == report.model_dump(mode="json")
        text = (await http.get("/metrics")).text
        assert 'crisis_open_cases{severity="urgent",stage="solving"}' in text
        assert "crisis_breached_cases " in text and "crisis_oldest_overdue_seconds " in text
        bad = await http.get("/metrics/cases", params={"by": "colour"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "by"]
        bad = await http.get("/metrics/cases", params={"since": "last tuesday"})
        assert bad.status_code == 422 and "since" in bad.json()["message"]


async def test_a_period_without_cases_says_it_is_empty(pool, settings):
    query = MetricsQuery(since="1990-01-01T00:00:00Z", until="1990-02-01T00:00:00Z", by="severity")
    report = await compute_metrics(pool, query)
    assert report.empty and report.cases_opened == 0 and report.groups == []
    assert report.resolution_rate is None and report.satisfaction.response_rate is None
    assert report.time_to_resolve.median_seconds is None and report.sla_overall.compliance is None
    assert "no real cases were reported" in report.message and "empty" in report.message
    # The CLI makes its own event loop, as it does for a user: run it off this test's loop.
    shown = await asyncio.to_thread(CliRunner().invoke, cli, ["metrics", "--since", "1990-01-01", "--until", "1990-02-01"],
                                    env={"DATABASE_URL": settings.dsn(), "CRISIS_DEBUG": ""})
    assert shown.exit_code == 0 and "the figures are empty" in shown.stdout
    bad = await asyncio.to_thread(CliRunner().invoke, cli, ["metrics", "--by", "colour"],
                                  env={"DATABASE_URL": settings.dsn()})
    assert bad.exit_code == 2 and bad.stderr.startswith("error: by: 'colour'") and "Traceback" not in bad.output


# --- the rollups (migration 010): kept by triggers as the record changes, equal to a rebuild -----

ROLLUPS = {"case_facts": "case_id", "deadline_facts": "case_id, name, due",
           "case_days": "day, drill, project_id, region, category, severity, path, playbook, shard",
           "deadline_days": "day, drill, project_id, region, category, severity, path, playbook, name, shard",
           "open_case_counts": "stage, severity, shard", "case_due": "case_id"}
EMPTY = {"open_case_counts": "cases <> 0 OR breached <> 0", "case_days": "opened <> 0",
         "deadline_days": "met_on_time <> 0 OR missed <> 0"}  # rows every case has left
real_params = metrics._params


async def rollup_rows(conn) -> dict[str, list]:
    """Every rollup row of a recorded case (events left by a deleted case are selected by no period)."""
    return {table: [dict(r) for r in await conn.fetch(
                f"SELECT * FROM {table} t WHERE {EMPTY.get(table, 'EXISTS (SELECT 1 FROM cases c WHERE c.case_id = t.case_id)')} "
                f"ORDER BY {key}")]
            for table, key in ROLLUPS.items()}


async def test_rollups_follow_every_change_of_the_record(pool, monkeypatch):
    """Cases, events and survey answers written, overwritten and deleted in the ways the worker and an
    operator do (and the case audit: one case terminated outside crisisdesk); the rollups the triggers
    kept then equal a rebuild from scratch (over everything this session recorded, real workflows'
    records included), and the gauges equal their full computation."""
    tag = uuid.uuid4().hex[:8]
    ids = [f"crisis-rl-{tag}-{i}" for i in range(3)] + [f"crisis-drill-rl-{tag}"]
    status = lambda due: {"received_at": "2026-02-01T08:00:00+00:00",  # noqa: E731
                          "deadlines": [{"name": "acknowledgement", "due_at": due}]}
    event = "INSERT INTO timeline_events (case_id, seq, at, kind, name, detail) VALUES ($1, $2, $3::text::timestamptz, $4, $5, $6)"
    async with pool.acquire() as conn:
        for n, case_id in enumerate(ids):
            await conn.execute(
                """INSERT INTO cases (case_id, intake_id, summary, project_id, region, playbook, playbook_version,
                                      received_at, stage, severity, category, status, updated_at)
                   VALUES ($1, $2, 's', 'P-R', $3, 'delivery', 1, '2026-02-01T08:00:00Z', 'triage', 'general',
                           'complaint', $4::jsonb, now())""",
                case_id, case_id.removeprefix("crisis-"), f"rl-{tag}", status(f"2026-02-0{n + 1}T09:00:00+00:00"))
        for case_id in ids:  # one statement per record, as the store step writes them
            await conn.executemany(event, [
                (case_id, 1, "2026-02-01T08:00:00Z", "stage", "triage", {}),
                (case_id, 2, "2026-02-01T08:10:00Z", "deadline_set", "acknowledgement", {})])
            await conn.execute(event, case_id, 3, "2026-02-01T08:20:00Z", "deadline_met", "acknowledgement",
                               {"due_at": "2026-02-01T08:30:00+00:00"})
            await conn.execute(event, case_id, 4, "2026-02-01T09:40:00Z", "breach", "response",
                               {"due_at": "2026-02-01T09:30:00+00:00", "level": 1})
        # A lost workflow task ran again: the same seq now holds another event (last write wins).
        await conn.execute("""UPDATE timeline_events SET kind = 'deadline_met', name = 'response',
                                     detail = '{"due_at": "2026-02-01T09:30:00+00:00", "late_by_seconds": 900}'
                              WHERE case_id = $1 AND seq = 2""", ids[0])
        await conn.execute("DELETE FROM timeline_events WHERE case_id = $1 AND seq = 4", ids[1])
        await conn.execute("""INSERT INTO survey_responses (key, case_id, score, timeliness, at)
                              VALUES ($1, $2, 4, 2, now()), ($3, $2, 5, NULL, now())""",
                           f"{ids[2]}:s1", ids[2], f"{ids[2]}:s2")
        await conn.execute("UPDATE survey_responses SET score = 1 WHERE key = $1", f"{ids[2]}:s2")
        # A target in business time: met after 7,200 s on the clock, 1,800 of them working time (issue 25).
        await conn.execute(event, ids[2], 5, "2026-02-01T10:00:00Z", "deadline_met", "response",
                           {"due_at": "2026-02-01T09:30:00+00:00", "late_by_seconds": 600, "working_seconds": 1800})
        # The case audit finds it terminated in Temporal: the event, then the record (activities/case_audit.py).
        await conn.execute(event, ids[2], 6, "2026-02-01T11:00:00Z", "terminated", "temporal", {"reason": "test"})
        await conn.execute("UPDATE cases SET stage = 'terminated' WHERE case_id = $1", ids[2])
        # The case row moves on: stage, severity, category, breached, deadlines; one closes; one goes away.
        await conn.execute("""UPDATE cases SET stage = 'solving', severity = 'urgent', category = 'safety', breached = true,
                                     status = $2 WHERE case_id = $1""", ids[0], status("2026-01-31T09:00:00+00:00"))
        await conn.execute("UPDATE cases SET stage = 'closed' WHERE case_id = $1", ids[1])
        await conn.execute(event, ids[1], 5, "2026-02-02T08:00:00Z", "stage", "closed", {})
        await conn.execute("DELETE FROM cases WHERE case_id = $1", ids[3])

        facts = {r["case_id"]: r for r in await conn.fetch("SELECT * FROM case_facts WHERE case_id = ANY($1)", ids)}
        assert facts[ids[3]]["received_at"] is None and facts[ids[1]]["closed"] and facts[ids[0]]["severity"] == "urgent"
        assert facts[ids[0]]["breaches"] == 1 and facts[ids[1]]["breaches"] == 0 and facts[ids[2]]["top_level"] == 1
        assert facts[ids[2]]["score"] == [1, 0, 0, 1, 0] and facts[ids[2]]["timeliness"] == [0, 1, 0, 0, 0]
        assert facts[ids[2]]["terminated"] and not facts[ids[0]]["terminated"]
        assert facts[ids[2]]["working"] and facts[ids[2]]["response_s"] == 1800.0 and facts[ids[2]]["ack_s"] == 1200.0
        assert not facts[ids[0]]["working"] and facts[ids[0]]["response_s"] == 600.0  # the clock's: 08:10 - 08:00
        late = await conn.fetchval("SELECT late_by FROM deadline_facts WHERE case_id = $1 AND name = 'response'", ids[0])
        assert late == 900.0

        now = datetime.now(UTC)
        snapshot = conn.transaction(isolation="repeatable_read")
        await snapshot.start()
        try:  # no record is written meanwhile, so the kept rollups, the gauges and the rebuild see one record
            await conn.execute("LOCK TABLE cases, timeline_events, survey_responses IN SHARE MODE")
            kept = await rollup_rows(conn)
            gauges = await business_gauges(pool, now)
            full = {"open": [tuple(r) for r in await conn.fetch(
                        f"SELECT stage, coalesce(severity, '(none)'), count(*) FROM cases WHERE {OPEN} GROUP BY 1, 2 ORDER BY 1, 2")],
                    "breached": await conn.fetchval(f"SELECT count(*) FROM cases WHERE breached AND {OPEN}"),
                    "overdue": await conn.fetchval(
                        f"""SELECT extract(epoch FROM $1 - min((d->>'due_at')::timestamptz))::float8
                            FROM cases c CROSS JOIN LATERAL jsonb_array_elements(coalesce(c.status->'deadlines', '[]'::jsonb)) d
                            WHERE {OPEN} AND (d->>'due_at')::timestamptz < $1""", now)}
            await conn.execute("SELECT crisis_rebuild_rollups()")
            rebuilt = await rollup_rows(conn)
        finally:
            await snapshot.rollback()  # the session's rollups stay as the triggers kept them
    # The days' sums give the figures the facts give: a period of whole days against the same cases
    # read from the facts alone (as a period without a whole day is).
    query = MetricsQuery(since="2026-01-30T00:00:00Z", until="2026-02-05T00:00:00Z", region=f"rl-{tag}")
    from_days = {by: await compute_metrics(pool, query.model_copy(update={"by": by})) for by in (None, "severity", "day")}
    monkeypatch.setattr(metrics, "_params", lambda q, drills: (lambda p: (p[0], [*p[0][:3], q.until.date(),
                        q.until.date(), q.since, q.until, q.until, q.until]))(real_params(q, drills)))
    for by, report in from_days.items():
        assert report.cases_opened == 3 and report.sla_overall.missed >= 1, by
        assert (report.cases_closed, report.cases_terminated, report.cases_open, report.working_time_cases) == (1, 1, 1, 1), by
        response = report.time_to_first_response  # 600 s on the clock and 1,800 s of working time
        assert (response.count, response.median_seconds, response.p90_seconds) == (2, 1200.0, 1680.0), by
        assert (await compute_metrics(pool, query.model_copy(update={"by": by}))) == report, by
    for table in ROLLUPS:
        differ = [(k, {f: (k_[f], r_[f]) for f in k_ if k_[f] != r_[f]}) for k, (k_, r_) in
                  enumerate(zip(kept[table], rebuilt[table])) if k_ != r_]
        assert kept[table] == rebuilt[table], (table, len(kept[table]), len(rebuilt[table]), differ[:3])
    assert [(o.stage, o.severity, o.cases) for o in gauges.open_cases] == full["open"]
    assert gauges.breached_now == full["breached"] and gauges.oldest_overdue_seconds == max(full["overdue"] or 0.0, 0.0)
