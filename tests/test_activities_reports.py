"""Reports, surveys and the knowledge base: one row per key, findable afterwards."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from activities.knowledge import Knowledge, search_knowledge
from activities.records import CaseRecords
from activities.reports import Reports, render_case_report
from activities.surveys import Surveys
from crisisdesk.models.case import DeadlineStatus, TimelineEvent
from crisisdesk.models.effects import RecordSurvey, RecordTimeline, SaveKnowledge, SendSurvey, WriteReport
from tests.helpers.activity_samples import T0, make_events, make_status, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


def report_request(case_id: str, kind: str = "change") -> WriteReport:
    status = make_status(case_id, deadlines=[
        DeadlineStatus(name="first_contact", due_at=T0 + timedelta(hours=12)),
        DeadlineStatus(name="alert_acknowledgement", due_at=T0 + timedelta(minutes=30), breached=True),
    ])
    timeline = [*make_events("triage", "acknowledge"),
                TimelineEvent(seq=3, at=T0 + timedelta(hours=1), kind="stage", name="planning", detail={"to": "planning"})]
    return WriteReport(key=f"{case_id}:report:{kind}", case_id=case_id, kind=kind, reason="stage changed to planning",
                       status=status, timeline=timeline, at=T0 + timedelta(hours=3))


async def test_write_report_twice_stores_one_report_with_the_events_and_a_chart(pool, settings):
    reports, case_id = Reports(pool, settings), new_case_id()
    request = report_request(case_id)
    first = await reports.write_report(request)
    second = await reports.write_report(request)
    assert first == second
    assert case_id in first.title and "planning" in first.summary and "alert_acknowledgement" in first.summary
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT markdown, html, files FROM reports WHERE case_id = $1", case_id)
    assert len(rows) == 1
    markdown, page, files = rows[0]
    for text in (markdown, page):
        assert "triage" in text and "acknowledge" in text and "first_contact" in text
        assert "zhang.san@example.com" not in text  # roles show names, never addresses
    assert "<svg" in page and "breached" in page
    assert sorted(Path(f).suffix for f in files) == [".html", ".md"]
    assert all(Path(f).parent == settings.report_dir.resolve() / case_id and Path(f).exists() for f in files)
    assert len(list((settings.report_dir / case_id).iterdir())) == 2


async def test_a_media_report_names_no_people(pool, settings):
    case_id = new_case_id()
    await Reports(pool, settings).write_report(report_request(case_id, kind="media"))
    async with pool.acquire() as conn:
        markdown = await conn.fetchval("SELECT markdown FROM reports WHERE case_id = $1", case_id)
    assert "Zhang San" not in markdown and "Li Si" not in markdown and "triage" in markdown


async def test_render_case_report_prefers_a_fresh_report_after_new_events(pool, settings):
    case_id = new_case_id()
    records, reports = CaseRecords(pool, settings), Reports(pool, settings)
    await records.record_timeline(RecordTimeline(case_id=case_id, status=make_status(case_id),
                                                 events=make_events("triage", "acknowledge")))
    await reports.write_report(report_request(case_id))
    stored = await render_case_report(pool, case_id)
    assert stored["source"] == "stored" and "<svg" in stored["html"]
    later = make_status(case_id, stage="closed", updated_at=T0 + timedelta(days=2))
    await records.record_timeline(RecordTimeline(case_id=case_id, status=later,
                                                 events=make_events("review_done", start=3)))
    fresh = await render_case_report(pool, case_id)
    assert (fresh["source"], fresh["kind"]) == ("fresh", "final")
    assert "review_done" in fresh["markdown"] and "<svg" in fresh["html"]
    with pytest.raises(LookupError):
        await render_case_report(pool, "crisis-no-such-case")


async def test_survey_token_and_answer_are_recorded_once(pool):
    surveys, case_id = Surveys(pool), new_case_id()
    sent = SendSurvey(key=f"{case_id}:survey", case_id=case_id, at=T0)
    assert (await surveys.send_survey(sent)).token == (await surveys.send_survey(sent)).token
    answer = RecordSurvey(key=f"{case_id}:survey:answer", case_id=case_id, score=4, timeliness=5,
                          comment="快速 and polite", at=T0)
    assert (await surveys.record_survey(answer)).inserted == 1
    assert (await surveys.record_survey(answer)).inserted == 0


async def test_knowledge_is_saved_once_and_found_by_a_word(pool):
    knowledge, case_id, marker = Knowledge(pool), new_case_id(), f"waterproofing{uuid.uuid4().hex[:6]}"
    request = SaveKnowledge(key=f"{case_id}:knowledge", case_id=case_id, title="Roof leak after handover",
                            body=f"The {marker} membrane was cut by a later installation. 屋面 防水层 被破坏。",
                            cause="installation damage", lessons="inspect the roof before handover",
                            category="technical", at=T0)
    first = await knowledge.save_knowledge(request)
    assert (await knowledge.save_knowledge(request)).article_id == first.article_id
    found = await search_knowledge(pool, marker)
    assert [a["article_id"] for a in found] == [first.article_id]
    assert found[0]["title"] == "Roof leak after handover"
    assert first.article_id in [a["article_id"] for a in await search_knowledge(pool, f"{marker} roof")]
    assert first.article_id in [a["article_id"] for a in await search_knowledge(pool, "防水层")]
    assert first.article_id in [a["article_id"] for a in await search_knowledge(pool, "防水")]  # substring fallback
    assert await search_knowledge(pool, f"{marker} -membrane") == []
