"""Service metrics from the record: thirty real cases (and a drill) through the real workflow in
simulated time, every figure checked against values computed independently from their timelines;
the same JSON from `crisis metrics --json` and `GET /metrics/cases`; Prometheus gauges; bad input."""

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner

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
