"""Case stories the metrics and report tests tell, through the real workflow in simulated time."""

import asyncio

from tests.helpers import eventually

HEAD = "Wang Head"
REVIEW = {"by": HEAD, "cause": "Worn door sensor", "lessons": "Replace sensors at five years",
          "knowledge_title": "Lift stops between floors", "knowledge_body": "Replace the door sensor."}


async def ordinary(case, severity="general", category="technical", score=None, *, wait=1, reject_first=False,
                   answer=True, review=True):
    """Triage after `wait` hours, then solution, execution and confirmation (turned down once if asked)."""
    await case.skip(hours=wait)
    await case.act("triage", by="Chen CS", severity=severity, category=category)
    rounds = 2 if reject_first else 1
    for n in range(rounds):
        await case.act("solution_proposed", by="Tech Liu" if severity == "general" else "Dr Ma", summary="Fix it",
                       experts=[] if severity == "general" else ["Dr Ma"])
        await case.act("execution_started", by="Zhao Eng", department="engineering")
        await case.act("execution_done", by="Zhao Eng")
        await case.act("resolution_confirmed", by="Chen CS", satisfied=n == rounds - 1)
    if score is None or not answer:
        return
    await case.act("survey_response", by="Chen CS", score=score, timeliness=min(score + 1, 5), effectiveness=score,
                   attitude=max(score - 1, 1) if score < 5 else None)
    if review:
        await case.act("review_done", **REVIEW)


async def settled(cases, pool) -> list:
    """Each case's status and timeline once PostgreSQL holds every event and survey answer they show."""
    async def pair(case):
        async def probe():
            timeline = await case.timeline()
            rows = await pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", case.id)
            answers = await pool.fetchval("SELECT count(*) FROM survey_responses WHERE case_id = $1", case.id)
            return timeline, rows, answers
        timeline, _, _ = await eventually(probe, lambda r: r[1] == len(r[0]) and r[2] == sum(
            e.kind == "action" and e.name == "survey_response" for e in r[0]), timeout=30)
        return await case.status(), timeline
    return list(await asyncio.gather(*(pair(c) for c in cases)))
